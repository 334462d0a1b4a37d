// The calling convention between the CUDA C that compiler/codegen/cuda
// generates (compiled by NVRTC at `dlc compile` time) and the cuda executor
// (runtime/cuda/cuda_executor.cc). Both sides include this header, so they agree
// on kernel names, parameters and how many items each kernel covers.
//
// Every generated kernel is
//   extern "C" __global__ void SYMBOL(char* const* buffers, long long threads,
//                                     unsigned long long seed, const unsigned long long* step)
// where `buffers[i]` is the device address of the program's buffer i (the
// executor keeps one such table per program in device memory; buffers never
// move, so the table is written once), `seed` is the executable's and `*step`
// the call's step number (dropout masks are drawn from them, Access::mask).
// The step is read from device memory, not passed by value, so a step
// captured once into a CUDA graph replays with each call's step number: the
// executor writes it next to the inputs. Each thread handles the threads
//   for (long long t = blockIdx.x * blockDim.x + threadIdx.x; t < threads;
//        t += gridDim.x * blockDim.x)
// of the kernel's items: one thread per item, or for a reduction over at
// least kLanes elements (lanes_per_item) a warp of kLanes threads per item
// (item t / kLanes, lane t % kLanes), the lanes taking every kLanes-th
// element and combining their partial results in a fixed butterfly. Items
// never depend on one another (no shared memory, no atomics), and lanes
// combine in a fixed order, so a kernel's result does not depend on the
// launch shape: results are bitwise reproducible on one GPU.
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

/// Threads of a warp, which work on one item together in reductions of at
/// least this many elements. The generated code's DLC_LANES.
constexpr int64_t kLanes = 32;

/// Threads per item of loop kernel `k`: kLanes for a reduction over at least
/// kLanes elements per item (one thread would walk them one after another,
/// a latency-bound chain: a bias gradient over a batch of 1024 rows took
/// about 0.2 ms so on an H200), else 1.
inline int64_t lanes_per_item(const LoopKernel& k) {
  return k.reduces() && k.outer_numel() > 0 && k.reduce_numel() >= kLanes ? kLanes : 1;
}

/// The threads a step's kernel is launched with: its items times the lanes
/// per item.
inline int64_t step_threads(const Step& s) {
  if (auto* k = s.loop()) return loop_items(*k) * lanes_per_item(*k);
  if (auto* g = s.gemm(); g && g->has_epilogue()) return loop_items(g->epilogue) * lanes_per_item(g->epilogue);
  return 0;
}

/// Blocks of a launch over `items` threads.
inline int64_t blocks_for(int64_t items) {
  return std::clamp<int64_t>((items + kThreadsPerBlock - 1) / kThreadsPerBlock, 1, kMaxBlocks);
}

}  // namespace dlc::cuda_abi
