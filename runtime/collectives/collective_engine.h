/* The interface between libdlrt and a collective engine: a plugin that
 * moves bytes between the processes of a data-parallel run. libdlrt loads
 * one at run time (dlopen) only when it runs as one of several processes,
 * so a one-process user needs neither the plugin nor the library behind it
 * (MPI, NCCL), and libdlrt links neither.
 *
 * An engine moves bytes only; the arithmetic (the rank-ordered sum that
 * makes every process agree bit for bit) is libdlrt's
 * (runtime/collectives/process_group.h), the same for every engine.
 *
 * Every operation is collective: every process calls it, in the same order,
 * with the same sizes. Each returns 0, or non-zero with one line in `err`
 * (NUL-terminated, at most `errlen` bytes) saying what failed.
 *
 * Two kinds of engine:
 * - host engines (MPI, libdlrt_mpi.so): pointers are host memory, `stream`
 *   is unused, and an operation has finished when it returns; one that waits
 *   more than `timeout_s` seconds for the other processes gives up with an
 *   error, so a dead or stuck process never hangs the others for ever.
 * - device engines (NCCL, libdlrt_nccl.so; device_memory = 1): pointers are
 *   CUDA device addresses (CUdeviceptr values) of the context current on the
 *   calling thread, and an operation is enqueued on `stream` (a CUstream):
 *   it has finished when the stream has, and the caller waits for that with
 *   its own deadline (`timeout_s` is unused), aborting the run when it
 *   passes. */
#ifndef DLRT_COLLECTIVE_ENGINE_H
#define DLRT_COLLECTIVE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DLRT_COLLECTIVE_ENGINE_ABI 1

typedef struct dlrt_collective_engine {
  int abi;   /* DLRT_COLLECTIVE_ENGINE_ABI */
  int rank;  /* this process, 0 .. size-1 */
  int size;  /* processes in the run */
  char name[128];  /* e.g. "MPI (Open MPI v4.1.4)", for messages */
  int device_memory;  /* 1: a device engine (see above) */
  /* recv[q*bytes .. (q+1)*bytes) receives process q's send[rank*bytes ..
   * (rank+1)*bytes): block q of every process's send goes to process q. */
  int (*all_to_all)(const void* send, void* recv, int64_t bytes, void* stream, double timeout_s, char* err, size_t errlen);
  /* recv[q*bytes .. (q+1)*bytes) receives process q's `send`. */
  int (*all_gather)(const void* send, void* recv, int64_t bytes, void* stream, double timeout_s, char* err, size_t errlen);
  /* Every process's `data` receives process `root`'s. */
  int (*broadcast)(void* data, int64_t bytes, int root, void* stream, double timeout_s, char* err, size_t errlen);
  /* Ends every process of the run now, with exit status `code` (after an
   * error on one of them: the others must not wait for it). Does not return. */
  void (*abort_all)(int code);
  /* The orderly end, once, after the last operation (at process exit). */
  void (*finalize)(void);
} dlrt_collective_engine;

/* The plugin's one export: initializes the engine (MPI_Init ...; a device
 * engine on the device of the CUDA context current on the calling thread)
 * and fills `e`. Returns 0, or non-zero with the reason in `err`. */
typedef int (*dlrt_collective_engine_open_fn)(dlrt_collective_engine* e, char* err, size_t errlen);
#define DLRT_COLLECTIVE_ENGINE_OPEN "dlrt_collective_engine_open"

#ifdef __cplusplus
}
#endif

#endif
