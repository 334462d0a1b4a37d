#include "runtime/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace dlc {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// How long an idle worker polls before it blocks. Kernels of one step come
// microseconds apart, and a futex wake-up costs more than that; between
// steps (data loading) the worker sleeps and leaves the core free.
constexpr auto kSpinBudget = std::chrono::microseconds(200);

}  // namespace

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
  workers_.reserve(threads_ - 1);
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

int ThreadPool::default_threads() {
  if (const char* env = std::getenv("DLC_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

std::pair<int64_t, int64_t> ThreadPool::chunk_range(int64_t n, int parts, int index) {
  int64_t base = n / parts, extra = n % parts;
  int64_t begin = index * base + std::min<int64_t>(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

void ThreadPool::run_chunk(int index) {
  if (index >= parts_) return;
  auto [begin, end] = chunk_range(n_, parts_, index);
  try {
    (*fn_)(begin, end);
  } catch (...) {
    std::lock_guard<std::mutex> lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::parallel_for(int64_t n, int parts, const RangeFn& fn) {
  if (n <= 0) return;
  parts = static_cast<int>(std::clamp<int64_t>(std::min<int64_t>(parts, n), 1, threads_));
  if (parts == 1) {
    fn(0, n);
    return;
  }
  fn_ = &fn;
  n_ = n;
  parts_ = parts;
  error_ = nullptr;
  // Every worker acknowledges every job, even one with no chunk for it, so
  // no worker can still be reading this job's fields when the next starts.
  pending_.store(threads_ - 1);
  generation_.fetch_add(1);
  if (sleeping_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  run_chunk(0);
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 4096) cpu_relax();
    else std::this_thread::yield();
  }
  fn_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    auto spin_until = std::chrono::steady_clock::now() + kSpinBudget;
    for (int spins = 0; generation_.load(std::memory_order_acquire) == seen && !stop_.load(); ++spins) {
      cpu_relax();
      if ((spins & 255) == 255 && std::chrono::steady_clock::now() > spin_until) {
        std::unique_lock<std::mutex> lock(mutex_);
        // sleeping_ is raised before the last check of generation_, and the
        // caller bumps generation_ before reading sleeping_: one of the two
        // sides always sees the other, so no wake-up is lost.
        sleeping_.fetch_add(1);
        wake_.wait(lock, [&] { return generation_.load() != seen || stop_.load(); });
        sleeping_.fetch_sub(1);
        break;
      }
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    run_chunk(index);
    pending_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace dlc
