// The LLVM command-line options dlc's CPU code generation sets, and the
// lock that keeps them in force while a module is optimized.
//
// One option: enable-masked-interleaved-mem-accesses. A pooling window's
// columns are stride-2 loads from one contiguous row; the loop over a row
// (14 columns) runs as one masked vector iteration, and without the option
// LLVM's x86 cost model turns masked strided accesses into gathers and
// scatters, slower than the scalar loop on AMD Zen 4 (LeNet-5's pooling
// gradient 0.34-0.37 ms against 0.255). With it, they are wide loads and
// shuffles (interleaved groups).
//
// LLVM's options are process-wide, and lld (linked in-process) resets every
// option's occurrence count on each link, which puts such an option back to
// its target default. So the options are set when LLVM is initialized and
// again after each link, while links exclude optimization.
#pragma once

#include <functional>
#include <shared_mutex>

namespace dlc::cpu {

/// Held while a module is optimized and emitted: no link resets the
/// options meanwhile.
std::shared_lock<std::shared_mutex> lock_llvm_options();

/// Sets the options (once LLVM's targets are initialized).
void set_llvm_options();

/// Runs `link` (an lld call) alone, and sets the options again after it.
void run_resetting_llvm_options(const std::function<void()>& link);

}  // namespace dlc::cpu
