// CUDA C for one loop kernel (an element-wise or reduction LoopKernel, or a
// GEMM epilogue): one item per element, or per output of a reduction, as
// cuda_abi::loop_items counts them. Semantics as compiler/codegen/cpu/loop_emitter.cc.
#pragma once

#include <string>

#include "kernel/kernel_ir.h"

namespace dlc::cuda {

/// Appends `SYMBOL_item` (the work of one item) and the __global__ kernel
/// `SYMBOL` that walks its items in a grid-stride loop.
void emit_loop_kernel(std::string* out, const Program& p, const LoopKernel& k, const std::string& symbol);

}  // namespace dlc::cuda
