// The MPI collective engine (libdlrt_mpi.so): dlrt's data-parallel runs
// launched by mpirun move their bytes through MPI. Built only when CMake
// finds MPI; libdlrt loads it with dlopen (runtime/collectives/process_group.cc).
//
// Every operation is non-blocking MPI polled against a deadline, because
// blocking MPI has no timeout: a peer that stopped answering (a dead
// machine, a network cut) would otherwise hang this process for ever.
#include <mpi.h>
#include <sched.h>
#include <time.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "runtime/collectives/collective_engine.h"
#include "runtime/collectives/engines/mpi_start.h"

namespace {

double now_seconds() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

int mpi_fault(int code, const char* op, char* err, size_t errlen) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  if (errlen > 0) std::snprintf(err, errlen, "MPI %s failed: %.*s", op, len, text);
  return 1;
}

/// Drives `req` to completion or gives up after `timeout_s`: spins for the
/// first millisecond (a step's collective is usually that quick), then
/// yields, then sleeps, so a process waiting for a slow one leaves it the core.
int wait(MPI_Request* req, double timeout_s, const char* op, char* err, size_t errlen) {
  const double start = now_seconds();
  for (long polls = 0;; ++polls) {
    int done = 0;
    int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpi_fault(rc, op, err, errlen);
    if (done) return 0;
    if ((polls & 63) != 0) continue;
    double waited = now_seconds() - start;
    if (waited > timeout_s) {
      if (errlen > 0)
        std::snprintf(err, errlen,
                      "MPI %s: no answer from the other processes within %.0f s (one died, hangs or is "
                      "unreachable; DLRT_COLLECTIVE_TIMEOUT sets the limit)",
                      op, timeout_s);
      return 1;
    }
    if (waited > 0.1) {
      timespec pause{0, 200000};  // 0.2 ms
      nanosleep(&pause, nullptr);
    } else if (waited > 0.001) {
      sched_yield();
    }
  }
}

/// One non-blocking operation of `bytes` per process: `start` begins it
/// (MPI counts are int, so a block over 2 GiB is refused first), then it is
/// waited for against the deadline.
template <typename Start>
int run(const char* op, int64_t bytes, double timeout_s, char* err, size_t errlen, Start start) {
  if (bytes < 0 || bytes > INT_MAX) {
    if (errlen > 0) std::snprintf(err, errlen, "MPI %s: a block over 2 GiB per process (MPI counts are int)", op);
    return 1;
  }
  MPI_Request req;
  int rc = start(static_cast<int>(bytes), &req);
  if (rc != MPI_SUCCESS) return mpi_fault(rc, op, err, errlen);
  return wait(&req, timeout_s, op, err, errlen);
}

int all_to_all(const void* send, void* recv, int64_t bytes, void*, double timeout_s, char* err, size_t errlen) {
  return run("all-to-all", bytes, timeout_s, err, errlen, [&](int n, MPI_Request* req) {
    return MPI_Ialltoall(send, n, MPI_BYTE, recv, n, MPI_BYTE, MPI_COMM_WORLD, req);
  });
}

int all_gather(const void* send, void* recv, int64_t bytes, void*, double timeout_s, char* err, size_t errlen) {
  return run("all-gather", bytes, timeout_s, err, errlen, [&](int n, MPI_Request* req) {
    return MPI_Iallgather(send, n, MPI_BYTE, recv, n, MPI_BYTE, MPI_COMM_WORLD, req);
  });
}

int broadcast(void* data, int64_t bytes, int root, void*, double timeout_s, char* err, size_t errlen) {
  return run("broadcast", bytes, timeout_s, err, errlen,
             [&](int n, MPI_Request* req) { return MPI_Ibcast(data, n, MPI_BYTE, root, MPI_COMM_WORLD, req); });
}

void abort_all(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void finalize() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int dlrt_collective_engine_open(dlrt_collective_engine* e,
                                                                                  char* err, size_t errlen) {
  if (dlc::engines::start_mpi(err, errlen) != 0) return 1;
  // Errors come back as codes (reported with the operation), not as MPI's own abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  std::memset(e, 0, sizeof *e);
  e->abi = DLRT_COLLECTIVE_ENGINE_ABI;
  MPI_Comm_rank(MPI_COMM_WORLD, &e->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &e->size);
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(version, &len);
  std::string_view v(version, static_cast<size_t>(len));
  v = v.substr(0, v.find_first_of(",\n"));
  std::snprintf(e->name, sizeof e->name, "MPI (%.*s)", static_cast<int>(v.size()), v.data());
  e->all_to_all = all_to_all;
  e->all_gather = all_gather;
  e->broadcast = broadcast;
  e->abort_all = abort_all;
  e->finalize = finalize;
  return 0;
}
