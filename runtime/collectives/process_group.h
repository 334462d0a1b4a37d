// The processes of a data-parallel run, as the runtime sees them.
//
// A process started by mpirun (Open MPI's OMPI_COMM_WORLD_SIZE or a PMI
// launcher's PMI_SIZE above 1) is one of several: on first use the group
// loads the MPI engine (libdlrt_mpi.so, runtime/collectives/engines/) and
// every collective goes through it. Any other process is a group of one,
// where every collective is a copy and nothing is loaded.
//
// The arithmetic is here, not in the engine: all_reduce_mean sums in rank
// order after an all-to-all (each process sums one block of every process's
// values), then gathers the blocks, so every process gets the same bits,
// reruns repeat them, and the bytes moved per process are those of a ring
// all-reduce, 2 (P-1)/P of the data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/collectives/collective_engine.h"

namespace dlc {

class ProcessGroup {
 public:
  /// The group of this process (decided once, on first use). Throws
  /// dlc::Error when the process was launched as one of several and the
  /// engine cannot be loaded or started.
  static ProcessGroup& get();

  int rank() const { return rank_; }
  int size() const { return size_; }
  /// "one process" or the engine's name and the process count.
  std::string description() const;

  /// data[i] = the mean over the processes of data[i], for i < n (the same
  /// n on every process); identical bits on every process. An n of
  /// bucket_length(n) moves in place, any other through a padded copy.
  /// n rounded up to a multiple of size(): the length of a bucket that
  /// all_reduce_mean reduces where it lies (padded with zeros past n).
  int64_t bucket_length(int64_t n) const { return (n + size_ - 1) / size_ * size_; }
  void all_reduce_mean(float* data, int64_t n);
  void all_reduce_mean(double* data, int64_t n);
  /// Every process's bytes receive those of process `root`.
  void broadcast(void* data, int64_t bytes, int root = 0);
  /// all[q*bytes, (q+1)*bytes) receives process q's `mine`.
  void all_gather(const void* mine, int64_t bytes, void* all);

  /// The device engine (NCCL) of a run of several processes, loaded and
  /// started on first use, on the device of the CUDA context current on the
  /// calling thread; throws dlc::Error when it cannot be (or in a group of one).
  dlrt_collective_engine& device_engine();
  /// This process's index among those of the run on its machine (from the
  /// launcher's environment; rank() when it says nothing): its GPU.
  int local_rank() const;
  /// Seconds a collective waits for the other processes (DLRT_COLLECTIVE_TIMEOUT).
  double timeout() const { return timeout_s_; }
  /// Records a collective the caller ran through device_engine(), for the
  /// figures below.
  void count_reduce(int64_t bytes_sent, double seconds) {
    reduced_bytes_ += bytes_sent;
    ++reduce_calls_;
    reduce_seconds_ += seconds;
  }

  /// After an error on this process, ends every process of the run (the
  /// others would wait for this one); does nothing in a group of one.
  void abort_all(int code);

  /// Bytes each process has sent through all_reduce_mean, and the calls (for benchmarks).
  int64_t reduced_bytes() const { return reduced_bytes_; }
  int64_t reduce_calls() const { return reduce_calls_; }
  /// Seconds spent in all_reduce_mean, waiting for the others included.
  double reduce_seconds() const { return reduce_seconds_; }

  ~ProcessGroup();

 private:
  ProcessGroup() = default;
  template <typename T> void reduce(T* data, int64_t n);
  void check(int rc, const char* op) const;

  int rank_ = 0, size_ = 1;
  double timeout_s_ = 600;
  std::unique_ptr<dlrt_collective_engine> engine_;  // null in a group of one
  std::unique_ptr<dlrt_collective_engine> device_engine_;  // loaded by device_engine()
  void* library_ = nullptr;
  std::vector<uint8_t> send_, recv_, block_sum_;  // reused between steps
  mutable std::vector<char> err_;
  int64_t reduced_bytes_ = 0, reduce_calls_ = 0;
  double reduce_seconds_ = 0;
};

/// How many processes the launcher started this one with (1 when not
/// launched by mpirun), from its environment; -1 when the variable is malformed.
int launched_process_count();

/// The seed of process `rank`'s dropout masks in a data-parallel run: the
/// executable's seed on rank 0, a different stream on every other rank (the
/// same masks on every process would correlate their rows).
uint64_t process_seed(uint64_t seed, int rank);

}  // namespace dlc
