// A small fixed thread pool that runs a loop range cut into chunks.
//
// How a range is cut depends only on (n, parts), never on the pool's size or
// on timing, and each chunk's work is independent of which thread runs it,
// so a kernel run over the pool produces the same bits every time and for
// every thread count (runtime/work_split.h picks `parts` from the work).
// Threads claim chunks as they arrive: when the machine is oversubscribed
// and a worker is descheduled, the others take its share instead of waiting.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace dlc {

class ThreadPool {
 public:
  /// The most threads a pool takes (DLC_NUM_THREADS, dlrun bench --threads).
  static constexpr int kMaxThreads = 1024;

  /// A pool of `threads` (1..kMaxThreads) threads: the caller plus
  /// threads-1 workers. Throws dlc::Error naming the count when it is out of
  /// range or the system cannot start that many threads (an address-space or
  /// process limit); the workers already started are stopped and joined
  /// first, so a failed pool neither hangs nor leaks threads.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }

  /// What parallel_for runs: a reference to a callable handling the
  /// half-open range [begin, end). It does not own the callable (a lambda
  /// passed to parallel_for lives until it returns) and, unlike
  /// std::function, never allocates: the executor posts one job per kernel.
  class RangeFn {
   public:
    template <typename F>
    RangeFn(const F& f)  // NOLINT: implicit, so callers pass lambdas
        : object_(&f), call_([](const void* o, int64_t b, int64_t e) { (*static_cast<const F*>(o))(b, e); }) {}
    void operator()(int64_t begin, int64_t end) const { call_(object_, begin, end); }

   private:
    const void* object_;
    void (*call_)(const void*, int64_t, int64_t);
  };

  /// Runs fn over [0, n) cut into min(parts, n) contiguous chunks
  /// (chunk_range), whatever size() is: a pool of one thread runs them one
  /// after another; the caller works too. Returns when every chunk is done;
  /// the first exception a chunk throws is rethrown here. Not reentrant:
  /// one parallel_for at a time, from one thread.
  void parallel_for(int64_t n, int parts, const RangeFn& fn);

  /// Chunk `index` of [0, n) cut into `parts` pieces whose sizes differ by at
  /// most one, the larger ones first.
  static std::pair<int64_t, int64_t> chunk_range(int64_t n, int parts, int index);

  /// Threads to use by default: DLC_NUM_THREADS when set (a whole number in
  /// 1..kMaxThreads, else dlc::Error naming it), else the hardware thread
  /// count, at most kMaxThreads.
  static int default_threads();

 private:
  void worker_loop();
  /// Tells the workers to return and joins them.
  void stop_workers();
  /// Claims and runs chunks of the job posted as `generation` until none is left.
  void run_chunks(uint32_t generation);

  const int threads_;
  std::vector<std::thread> workers_;

  // The current job. fn_ and n_ are written before job_ is published and
  // stay fixed until every chunk is done.
  const RangeFn* fn_ = nullptr;
  int64_t n_ = 0;
  /// generation (32 bits) | parts (16 bits) | next chunk to claim (16 bits):
  /// one word, so a late worker can never claim a chunk of a newer job
  /// while reading an older one's fields.
  std::atomic<uint64_t> job_{0};
  std::atomic<int> done_{0};      // chunks finished in the current job
  std::atomic<int> sleeping_{0};  // workers blocked on wake_
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::exception_ptr error_;
  std::mutex error_mutex_;
};

}  // namespace dlc
