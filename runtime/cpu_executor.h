// The cpu executor: runs an executable's kernel programs with the native
// code the compiler generated (a shared object in Executable::code).
//
// Threads: one pool (runtime/thread_pool.h) runs everything. Loop and row
// kernels split their outer range over it; each GEMM is split into row (or
// column) blocks over the same pool, and every block is a single-threaded
// OpenBLAS call. OpenBLAS's own threads are switched off
// (openblas_set_num_threads(1)), so BLAS threads and pool threads never
// compete for the cores. Splitting never changes a reduction's order, and
// where the splits fall depends on each step's shape alone
// (runtime/work_split.h), so results are bitwise identical run to run and
// for every thread count.
#pragma once

#include <cctype>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernel/cpu_abi.h"
#include "kernel/kernel_ir.h"
#include "runtime/executor.h"

namespace dlc {


/// Reads the current contents of a program buffer (its dtype and dims).
using BufferReader = std::function<HostTensor(int buffer)>;
/// Called after step `step` of a program has run.
using StepObserver = std::function<void(int step, const BufferReader& read)>;

/// An executor that runs a kernel program and lets a caller look at every
/// step's buffers as it goes (`dlrun --verify-fusion`). The cpu executor is
/// one: dynamic_cast the Executor that make_cpu_executor returns.
class ObservableExecutor : public Executor {
 public:
  /// The kernel program of `entry`, or nullptr.
  virtual const Program* program(const std::string& entry) const = 0;
  /// run(), calling `after_step` after every step of the entry's program.
  virtual void run_observed(const std::string& entry, const std::map<std::string, HostTensor>& inputs,
                            std::map<std::string, HostTensor>* outputs, const StepObserver& after_step) = 0;

  /// How long the last run_bound took from its first step's start to its
  /// last step's end, in milliseconds: the call's kernels, without binding
  /// the buffers or copying outputs out. Negative before any run_bound, and
  /// for an executor without a bound path (its calls go through run()).
  /// (Two clock reads per call; `dlrun bench --profile` subtracts it from
  /// the time of a call through the C API.)
  virtual double last_kernel_span_ms() const { return -1; }

  /// A run is an observed run that nobody observes.
  void run(const std::string& entry, const std::map<std::string, HostTensor>& inputs,
           std::map<std::string, HostTensor>* outputs) final {
    run_observed(entry, inputs, outputs, nullptr);
  }
};

/// Creates the cpu executor for `exe` (target "cpu", already validated):
/// loads its code, checks that every kernel symbol exists, and sets up the
/// persistent state from the initial parameters. `threads` <= 0 means
/// ThreadPool::default_threads(). Throws dlc::Error naming what is missing.
std::unique_ptr<Executor> make_cpu_executor(const proto::Executable& exe, int threads = 0);

}  // namespace dlc
