// Row-wise softmax-family kernels (compiler/kernel_ir.h RowKernel) as LLVM
// functions: one pass for the row max, one for the sum of exponentials (in
// double), one for the outputs, each over contiguous columns.
#pragma once

#include <llvm/IR/Module.h>

#include <string>

#include "compiler/kernel_ir.h"

namespace dlc::cpu {

/// Emits `r` as the kernel function `name` over rows [begin, end) (ABI in
/// runtime/cpu_executor.h). softmax_xent also gets `name_finish`, which
/// averages the per-row losses in row order once all rows are done.
void emit_row_kernel(llvm::Module& m, const Program& p, const RowKernel& r, const std::string& name);

}  // namespace dlc::cpu
