#include "runtime/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <system_error>

#include "ir/error.h"
#include "ir/number_text.h"

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

constexpr int kMaxParts = 0xffff;

uint32_t generation_of(uint64_t job) { return static_cast<uint32_t>(job >> 32); }
int parts_of(uint64_t job) { return static_cast<int>((job >> 16) & 0xffff); }
int next_of(uint64_t job) { return static_cast<int>(job & 0xffff); }

}  // namespace

static_assert(ThreadPool::kMaxThreads <= kMaxParts, "a chunk index must fit the job word");

ThreadPool::ThreadPool(int threads) : threads_(threads) {
  if (threads < 1 || threads > kMaxThreads)
    throw Error("thread pool: " + std::to_string(threads) + " threads, outside 1.." + std::to_string(kMaxThreads));
  workers_.reserve(threads_ - 1);
  try {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
  } catch (const std::system_error& e) {
    // A constructor that throws runs no destructor: without this the members
    // would be destroyed under running workers (joinable std::threads, and
    // a condition variable that workers wait on, whose destruction blocks).
    size_t started = workers_.size();
    stop_workers();
    throw Error("cannot start a pool of " + std::to_string(threads_) + " threads: thread " +
                std::to_string(started + 2) + " failed (" + e.what() +
                "); set DLC_NUM_THREADS to fewer, or raise the address-space or process limit");
  }
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

int ThreadPool::default_threads() {
  if (const char* env = std::getenv("DLC_NUM_THREADS"))
    return static_cast<int>(parse_whole_number("DLC_NUM_THREADS", env, 1, kMaxThreads));
  return static_cast<int>(std::clamp<unsigned>(std::thread::hardware_concurrency(), 1, kMaxThreads));
}

std::pair<int64_t, int64_t> ThreadPool::chunk_range(int64_t n, int parts, int index) {
  int64_t base = n / parts, extra = n % parts;
  int64_t begin = index * base + std::min<int64_t>(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

void ThreadPool::run_chunks(uint32_t generation) {
  uint64_t job = job_.load(std::memory_order_acquire);
  for (;;) {
    if (generation_of(job) != generation || next_of(job) >= parts_of(job)) return;
    if (!job_.compare_exchange_weak(job, job + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // A claimed chunk keeps its job open, so fn_ and n_ are this job's.
    int index = next_of(job);
    auto [begin, end] = chunk_range(n_, parts_of(job), index);
    try {
      (*fn_)(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    done_.fetch_add(1, std::memory_order_acq_rel);
    job = job_.load(std::memory_order_acquire);
  }
}

void ThreadPool::parallel_for(int64_t n, int parts, const RangeFn& fn) {
  if (n <= 0) return;
  // Not clamped to threads_: the chunks, and so the bits, stay the same.
  parts = static_cast<int>(std::clamp<int64_t>(std::min<int64_t>(parts, n), 1, kMaxParts));
  if (parts == 1 || threads_ == 1) {
    for (int i = 0; i < parts; ++i) {
      auto [begin, end] = chunk_range(n, parts, i);
      fn(begin, end);
    }
    return;
  }
  fn_ = &fn;
  n_ = n;
  error_ = nullptr;
  done_.store(0, std::memory_order_relaxed);
  uint32_t generation = generation_of(job_.load()) + 1;
  job_.store((static_cast<uint64_t>(generation) << 32) | (static_cast<uint64_t>(parts) << 16));
  if (sleeping_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  run_chunks(generation);
  for (int spins = 0; done_.load(std::memory_order_acquire) != parts; ++spins) {
    if (spins < 2048) cpu_relax();
    else std::this_thread::yield();
  }
  fn_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

void ThreadPool::worker_loop() {
  uint32_t seen = 0;
  for (;;) {
    auto spin_until = std::chrono::steady_clock::now() + kSpinBudget;
    for (int spins = 0; generation_of(job_.load(std::memory_order_acquire)) == seen && !stop_.load(); ++spins) {
      cpu_relax();
      if ((spins & 255) == 255 && std::chrono::steady_clock::now() > spin_until) {
        std::unique_lock<std::mutex> lock(mutex_);
        // sleeping_ is raised before the last look at job_, and the caller
        // publishes job_ before reading sleeping_: one of the two sides
        // always sees the other, so no wake-up is lost.
        sleeping_.fetch_add(1);
        wake_.wait(lock, [&] { return generation_of(job_.load()) != seen || stop_.load(); });
        sleeping_.fetch_sub(1);
        break;
      }
    }
    if (stop_.load()) return;
    seen = generation_of(job_.load(std::memory_order_acquire));
    run_chunks(seen);
  }
}

}  // namespace dlc
