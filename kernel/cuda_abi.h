// The calling convention between the CUDA C that compiler/codegen/cuda
// generates (compiled by NVRTC at `dlc compile` time) and the cuda executor
// (runtime/cuda/cuda_executor.cc). Both sides include this header, so they agree
// on kernel names, parameters and how many items each kernel covers.
//
// Every generated kernel is
//   extern "C" __global__ void SYMBOL(char* const* buffers, long long items,
//                                     unsigned long long seed, unsigned long long step)
// where `buffers[i]` is the device address of the program's buffer i (the
// executor keeps one such table per program in device memory; buffers never
// move, so the table is written once), `seed` and `step` are the run's (the
// executable's seed, the call's step number: dropout masks are drawn from
// them, Access::mask; arguments, so a new step costs no copy), and each
// thread handles items
//   for (long long t = blockIdx.x * blockDim.x + threadIdx.x; t < items;
//        t += gridDim.x * blockDim.x)
// One item never depends on another (no shared memory, no atomics), so a
// kernel's result does not depend on the launch shape, and reductions keep
// the fixed order the kernel IR prescribes: results are bitwise reproducible.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>

#include "kernel/kernel_ir.h"

namespace dlc::cuda_abi {

/// Threads per block of every launch.
constexpr int kThreadsPerBlock = 256;
/// Most blocks of one launch; the grid-stride loop covers the rest.
constexpr int64_t kMaxBlocks = 1 << 16;

/// The kernel of step `step` of the program of `entry`: "dlc_<entry>_<step>"
/// (the same names as the cpu target's, so reports read alike).
inline std::string kernel_symbol(const std::string& entry, size_t step) {
  std::string s = "dlc_";
  for (char c : entry) s += (std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return s + "_" + std::to_string(step);
}

/// The `__device__ unsigned long long` that ties the code to the programs it
/// was generated from (program_fingerprint); the executor reads it with
/// cuModuleGetGlobal and refuses code whose value differs.
constexpr const char* kFingerprintSymbol = "dlc_programs_fingerprint";

/// Items of a loop kernel: one per element of an element-wise kernel
/// (row-major over all its dims, 1 for rank 0), one per output of a
/// reduction kernel (row-major over the outer dims; the item computes its
/// accumulators over the inner dims in row-major order, then its stores,
/// per-element ones over the inner dims; an empty reduction stores the
/// initial value). 0 when there is nothing to store.
inline int64_t loop_items(const LoopKernel& k) { return k.outer_numel(); }

/// The items a step's kernel covers: loop kernels and GEMM epilogues by
/// loop_items; 0 for steps without a kernel.
inline int64_t step_items(const Step& s) {
  if (auto* k = s.loop()) return loop_items(*k);
  if (auto* g = s.gemm(); g && g->has_epilogue()) return loop_items(g->epilogue);
  return 0;
}

/// True for steps that have a generated kernel (loop, GEMM epilogue).
inline bool has_kernel(const Step& s) { return s.loop() || (s.gemm() && s.gemm()->has_epilogue()); }

/// Blocks of a launch over `items` items.
inline int64_t blocks_for(int64_t items) {
  return std::clamp<int64_t>((items + kThreadsPerBlock - 1) / kThreadsPerBlock, 1, kMaxBlocks);
}

}  // namespace dlc::cuda_abi
