#include "runtime/collectives/process_group.h"

#include <dlfcn.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "ir/error.h"

namespace dlc {
namespace {


/// The directory of the file this code was loaded from (libdlrt.so, or the
/// program that links the runtime statically), with a trailing slash.
std::string own_directory() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&launched_process_count), &info) == 0 || !info.dli_fname) return "";
  std::string path = info.dli_fname;
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

/// Where engine `file` may be: the variable `env` when set; else beside
/// this code, then in ../lib (an installed bin/dlrun beside lib/), then
/// wherever the dynamic loader looks (LD_LIBRARY_PATH, the system's folders).
std::vector<std::string> engine_candidates(const std::string& file, const char* env) {
  if (const char* path = std::getenv(env); path && *path) return {path};
  std::string dir = own_directory();
  return {dir + file, dir + "../lib/" + file, file};
}

/// Loads and opens engine `file` (`what` names it in errors: "MPI", "NCCL").
std::unique_ptr<dlrt_collective_engine> open_engine(const std::string& file, const char* env, const std::string& what,
                                                    int launched, void** library) {
  std::string tried;
  for (const auto& path : engine_candidates(file, env)) {
    *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (*library) break;
    const char* why = dlerror();
    tried += "\n  " + (why ? std::string(why) : path);
  }
  if (!*library)
    throw Error("this process is one of " + std::to_string(launched) + " started by mpirun, but the " + what +
                " engine cannot be loaded:" + tried + "\n(build dlc with " + what +
                " installed, or point " + env + " at " + file + ")");
  auto open = reinterpret_cast<dlrt_collective_engine_open_fn>(dlsym(*library, DLRT_COLLECTIVE_ENGINE_OPEN));
  if (!open) throw Error("the " + what + " engine " + file + " has no " + DLRT_COLLECTIVE_ENGINE_OPEN);
  auto engine = std::make_unique<dlrt_collective_engine>();
  std::vector<char> err(512, '\0');
  if (open(engine.get(), err.data(), err.size()) != 0)
    throw Error("cannot start the " + what + " engine: " + std::string(err.data()));
  if (engine->abi != DLRT_COLLECTIVE_ENGINE_ABI)
    throw Error("the " + what + " engine speaks interface " + std::to_string(engine->abi) + ", this runtime " +
                std::to_string(DLRT_COLLECTIVE_ENGINE_ABI));
  return engine;
}

double collective_timeout() {
  const char* env = std::getenv("DLRT_COLLECTIVE_TIMEOUT");
  if (!env || !*env) return 600;
  char* end = nullptr;
  double v = std::strtod(env, &end);
  if (end == env || *end != '\0' || !(v > 0))
    throw Error(std::string("DLRT_COLLECTIVE_TIMEOUT='") + env + "' is not a positive number of seconds");
  return v;
}

}  // namespace

int launched_process_count() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const char* v = std::getenv(var);
    if (!v || !*v) continue;
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    if (*end != '\0' || n < 1 || n > 1 << 20) return -1;
    return static_cast<int>(n);
  }
  return 1;
}

uint64_t process_seed(uint64_t seed, int rank) {
  if (rank == 0) return seed;
  // splitmix64 of (seed, rank): far apart streams for neighbouring ranks.
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(rank);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

ProcessGroup& ProcessGroup::get() {
  static std::mutex mu;
  static std::unique_ptr<ProcessGroup> group;
  std::lock_guard<std::mutex> lock(mu);
  if (group) return *group;
  std::unique_ptr<ProcessGroup> g(new ProcessGroup());
  int launched = launched_process_count();
  if (launched < 0) throw Error("OMPI_COMM_WORLD_SIZE or PMI_SIZE is not a process count");
  if (launched > 1) {
    g->timeout_s_ = collective_timeout();
    g->engine_ = open_engine("libdlrt_mpi.so", "DLRT_MPI_ENGINE", "MPI", launched, &g->library_);
    g->rank_ = g->engine_->rank;
    g->size_ = g->engine_->size;
    g->err_.assign(512, '\0');
    // MPI must end before the process does; a static's destructor runs then.
  }
  group = std::move(g);
  return *group;
}

dlrt_collective_engine& ProcessGroup::device_engine() {
  if (!engine_) throw Error("internal error: a device engine for a run of one process");
  if (!device_engine_) {
    void* library = nullptr;
    device_engine_ = open_engine("libdlrt_nccl.so", "DLRT_NCCL_ENGINE", "NCCL", size_, &library);
    if (device_engine_->rank != rank_ || device_engine_->size != size_)
      throw Error("the NCCL engine sees process " + std::to_string(device_engine_->rank) + " of " +
                  std::to_string(device_engine_->size) + ", MPI " + std::to_string(rank_) + " of " + std::to_string(size_));
  }
  return *device_engine_;
}

int ProcessGroup::local_rank() const {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char* v = std::getenv(var); v && *v) return std::atoi(v);
  return rank_;
}

ProcessGroup::~ProcessGroup() {
  // The device communicator first: it was bootstrapped through MPI.
  if (device_engine_ && device_engine_->finalize) device_engine_->finalize();
  if (engine_ && engine_->finalize) engine_->finalize();
  // The library stays loaded: MPI's own exit handlers may still run in it.
}

std::string ProcessGroup::description() const {
  if (!engine_) return "one process";
  return std::to_string(size_) + " processes over " + engine_->name;
}

void ProcessGroup::check(int rc, const char* op) const {
  if (rc != 0)
    throw Error(std::string("process ") + std::to_string(rank_) + " of " + std::to_string(size_) + ": " + op + ": " +
                err_.data());
}

template <typename T>
void ProcessGroup::reduce(T* data, int64_t n) {
  if (!engine_ || n <= 0) return;
  auto start = std::chrono::steady_clock::now();
  const int64_t p = size_;
  const int64_t block = (n + p - 1) / p;  // elements of the slice each process sums
  const int64_t block_bytes = block * static_cast<int64_t>(sizeof(T));
  // A length the processes divide evenly goes out of and back into `data`
  // itself (HostAllReduce pads its bucket so); any other through a padded copy.
  const bool padded = bucket_length(n) != n;
  T* whole = data;
  if (padded) {
    send_.assign(static_cast<size_t>(p * block_bytes), 0);
    std::memcpy(send_.data(), data, static_cast<size_t>(n) * sizeof(T));
    whole = reinterpret_cast<T*>(send_.data());
  }
  recv_.resize(static_cast<size_t>(p * block_bytes));
  block_sum_.resize(static_cast<size_t>(block_bytes));
  check(engine_->all_to_all(whole, recv_.data(), block_bytes, nullptr, timeout_s_, err_.data(), err_.size()),
        "all_reduce_mean (all-to-all)");
  // recv_ holds block `rank_` of every process, in rank order: sum them in
  // that order, so the result does not depend on who answered first.
  const T* parts = reinterpret_cast<const T*>(recv_.data());
  T* mine = reinterpret_cast<T*>(block_sum_.data());
  for (int64_t i = 0; i < block; ++i) {
    T acc = parts[i];
    for (int64_t q = 1; q < p; ++q) acc += parts[q * block + i];
    mine[i] = acc / static_cast<T>(p);
  }
  check(engine_->all_gather(mine, whole, block_bytes, nullptr, timeout_s_, err_.data(), err_.size()),
        "all_reduce_mean (all-gather)");
  if (padded) std::memcpy(data, whole, static_cast<size_t>(n) * sizeof(T));
  count_reduce(2 * (p - 1) * block_bytes,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void ProcessGroup::all_reduce_mean(float* data, int64_t n) { reduce(data, n); }
void ProcessGroup::all_reduce_mean(double* data, int64_t n) { reduce(data, n); }

void ProcessGroup::broadcast(void* data, int64_t bytes, int root) {
  if (!engine_ || bytes <= 0) return;
  check(engine_->broadcast(data, bytes, root, nullptr, timeout_s_, err_.data(), err_.size()), "broadcast");
}

void ProcessGroup::all_gather(const void* mine, int64_t bytes, void* all) {
  if (!engine_) {
    if (bytes > 0) std::memcpy(all, mine, static_cast<size_t>(bytes));
    return;
  }
  check(engine_->all_gather(mine, all, bytes, nullptr, timeout_s_, err_.data(), err_.size()), "all_gather");
}

void ProcessGroup::abort_all(int code) {
  if (device_engine_ && device_engine_->abort_all) device_engine_->abort_all(code);
  if (engine_ && engine_->abort_all) engine_->abort_all(code);
}

}  // namespace dlc
