// The cpu executor's convolution steps (kernel/kernel_ir.h ConvCall) that
// are library calls: oneDNN's convolution primitives, in the blocked
// layouts oneDNN picks for this machine, over dlc's dense NCHW buffers.
// (Steps marked `generated` run the compiler's kernel like a loop step.)
//
// Everything is made once, at load: per block of images (runtime/
// work_split.h conv_chunks, a function of the shape alone) the primitive and
// the reorders from and to NCHW, and the blocked tensors as workspaces that
// a running block borrows (the threads reuse the few they need, warm in
// their caches), so a call allocates nothing. The blocks run on the
// executor's thread pool, each a single-threaded oneDNN call. Channels
// fewer than oneDNN's vector block ask for narrower layouts where oneDNN
// has a direct kernel for them (layout_choices in the .cc). The weight gradient sums over the images:
// each block writes its own partial sum and the partials are added in block
// order, so the bits never depend on the thread count.
//
// Measured on LeNet-5's second convolution at batch 128 (bench/onednn_conv,
// session 11): the three passes in blocked layouts with the reorders took
// 3.3 ms against 9.8 ms for im2col + GEMM + col2im, and 5.1 ms in plain
// NCHW (oneDNN's own GEMM-based kernel): the blocked layouts are what pays.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernel/kernel_ir.h"

namespace dlc {

class ThreadPool;

class CpuConvolution {
 public:
  /// Prepares `call` (a step check_program has accepted). Throws dlc::Error
  /// naming `where` when oneDNN cannot make a primitive for it or its
  /// blocked tensors would exceed the memory limit.
  CpuConvolution(const ConvCall& call, const std::string& where);
  ~CpuConvolution();
  CpuConvolution(CpuConvolution&&) noexcept;
  CpuConvolution& operator=(CpuConvolution&&) noexcept;

  /// Runs the pass over the program's buffers (`pointers`, by buffer id).
  void run(void* const* pointers, ThreadPool& pool);

  /// The blocks of images one call is cut into.
  int chunks() const;

  /// oneDNN's names of the kernels it runs (one per block size, in order,
  /// without repeats), e.g. "jit:avx2".
  std::vector<std::string> kernel_names() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dlc
