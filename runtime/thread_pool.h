// A small fixed thread pool that splits a loop range across threads.
//
// Chunks are contiguous and depend only on (n, parts), never on timing, so a
// kernel run over the pool produces the same bits every time for a given
// thread count.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace dlc {

class ThreadPool {
 public:
  /// A pool of `threads` (>= 1) threads: the caller plus threads-1 workers.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }

  /// The fn type: handles the half-open range [begin, end).
  using RangeFn = std::function<void(int64_t begin, int64_t end)>;

  /// Runs fn over [0, n) split into min(parts, size(), n) contiguous chunks
  /// (chunk_range), chunk 0 on the calling thread; returns when every chunk
  /// is done. The first exception a chunk throws is rethrown here.
  void parallel_for(int64_t n, int parts, const RangeFn& fn);

  /// Chunk `index` of [0, n) cut into `parts` pieces whose sizes differ by at
  /// most one, the larger ones first.
  static std::pair<int64_t, int64_t> chunk_range(int64_t n, int parts, int index);

  /// Threads to use by default: DLC_NUM_THREADS when set, else the hardware
  /// thread count.
  static int default_threads();

 private:
  void worker_loop(int index);
  void run_chunk(int index);

  const int threads_;
  std::vector<std::thread> workers_;

  // The current job; written by the caller before it bumps generation_.
  const RangeFn* fn_ = nullptr;
  int64_t n_ = 0;
  int parts_ = 0;

  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};   // workers that have not finished the current job
  std::atomic<int> sleeping_{0};  // workers blocked on wake_
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::exception_ptr error_;
  std::mutex error_mutex_;
};

}  // namespace dlc
