// Starting MPI once per process, shared by the engines (each a plugin of
// its own; the MPI library under them is one).
#pragma once

#include <mpi.h>

#include <cstdio>

namespace dlc::engines {

/// MPI_Init_thread unless another engine of the process did it already.
/// Serialized: the runtime calls MPI from one thread at a time (the one
/// running the step), never from its worker threads. Returns 0, or
/// non-zero with the reason in `err`.
inline int start_mpi(char* err, size_t errlen) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return 0;
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) == MPI_SUCCESS) return 0;
  if (errlen > 0) std::snprintf(err, errlen, "MPI_Init_thread failed");
  return 1;
}

}  // namespace dlc::engines
