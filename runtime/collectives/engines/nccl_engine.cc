// The NCCL collective engine (libdlrt_nccl.so): the bucket of a cuda
// data-parallel step moves between the GPUs directly. Built only when CMake
// finds both NCCL (in the CUDA toolkit) and MPI; libdlrt loads it with
// dlopen (runtime/collectives/process_group.cc) in a cuda run of several
// processes, one GPU each.
//
// A device engine (runtime/collectives/collective_engine.h): operations are
// enqueued on the caller's stream over device memory and complete with it;
// the caller waits with its own deadline. NCCL is bootstrapped through MPI:
// process 0 makes the communicator's id and MPI broadcasts it. The MPI
// engine of the same run (host collectives: weights, predictions) shares the
// MPI library, which whichever engine opens first initializes.
#include <mpi.h>
#include <nccl.h>

#include <cstdio>
#include <cstring>

#include "runtime/collectives/collective_engine.h"
#include "runtime/collectives/engines/mpi_start.h"

namespace {

ncclComm_t g_comm = nullptr;
int g_size = 1;

int fault(ncclResult_t r, const char* op, char* err, size_t errlen) {
  if (r == ncclSuccess) return 0;
  if (errlen > 0) std::snprintf(err, errlen, "NCCL %s failed: %s", op, ncclGetErrorString(r));
  return 1;
}

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

// Block q of `send` to process q, block p of every process into `recv`:
// point-to-point pairs in one group, which NCCL runs concurrently.
int all_to_all(const void* send, void* recv, int64_t bytes, void* stream, double, char* err, size_t errlen) {
  ncclResult_t r = ncclGroupStart();
  for (int q = 0; q < g_size && r == ncclSuccess; ++q) {
    r = ncclSend(static_cast<const char*>(send) + q * bytes, static_cast<size_t>(bytes), ncclUint8, q, g_comm,
                 as_stream(stream));
    if (r == ncclSuccess)
      r = ncclRecv(static_cast<char*>(recv) + q * bytes, static_cast<size_t>(bytes), ncclUint8, q, g_comm,
                   as_stream(stream));
  }
  ncclResult_t end = ncclGroupEnd();
  return fault(r != ncclSuccess ? r : end, "all-to-all", err, errlen);
}

int all_gather(const void* send, void* recv, int64_t bytes, void* stream, double, char* err, size_t errlen) {
  return fault(ncclAllGather(send, recv, static_cast<size_t>(bytes), ncclUint8, g_comm, as_stream(stream)),
               "all-gather", err, errlen);
}

int broadcast(void* data, int64_t bytes, int root, void* stream, double, char* err, size_t errlen) {
  return fault(ncclBroadcast(data, data, static_cast<size_t>(bytes), ncclUint8, root, g_comm, as_stream(stream)),
               "broadcast", err, errlen);
}

void abort_all(int code) {
  // The communicator first: its kernels may be waiting for a dead peer.
  if (g_comm) ncclCommAbort(g_comm);
  g_comm = nullptr;
  MPI_Abort(MPI_COMM_WORLD, code);
}

void finalize() {
  if (g_comm) ncclCommDestroy(g_comm);
  g_comm = nullptr;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int dlrt_collective_engine_open(dlrt_collective_engine* e,
                                                                                  char* err, size_t errlen) {
  if (dlc::engines::start_mpi(err, errlen) != 0) return 1;  // NCCL is bootstrapped through MPI
  std::memset(e, 0, sizeof *e);
  e->abi = DLRT_COLLECTIVE_ENGINE_ABI;
  e->device_memory = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &e->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &e->size);
  g_size = e->size;
  ncclUniqueId id;
  if (e->rank == 0 && fault(ncclGetUniqueId(&id), "get unique id", err, errlen)) return 1;
  if (MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS) {
    std::snprintf(err, errlen, "MPI_Bcast of the NCCL id failed");
    return 1;
  }
  // On the device of the calling thread's current context (the executor's).
  if (fault(ncclCommInitRank(&g_comm, e->size, id, e->rank), "communicator init", err, errlen)) return 1;
  int version = 0;
  ncclGetVersion(&version);
  std::snprintf(e->name, sizeof e->name, "NCCL %d.%d.%d", version / 10000, version / 100 % 100, version % 100);
  e->all_to_all = all_to_all;
  e->all_gather = all_gather;
  e->broadcast = broadcast;
  e->abort_all = abort_all;
  e->finalize = finalize;
  return 0;
}
