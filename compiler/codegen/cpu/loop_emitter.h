// Loop kernels (kernel/kernel_ir.h) as LLVM functions.
#pragma once

#include <llvm/IR/Module.h>

#include <string>

#include "kernel/kernel_ir.h"

namespace dlc::cpu {

/// Emits `k`, a kernel of program `p`, as the kernel function `name` (ABI in
/// runtime/cpu_executor.h) over its canonical loop nest (loop_shape.h).
///
/// Element-wise kernels: the innermost loop is marked free of cross-
/// iteration memory dependences (the kernel IR guarantees it), and loads
/// that do not move along it (broadcasts) are hoisted out of it. An
/// innermost dim of at most 4 (a pooling window's columns) is unrolled into
/// the loop around it when that loop runs at least 8 times.
/// Sum reductions accumulate in double; each output combines its reduced
/// elements in one fixed order that does not depend on the thread count.
///
/// Returns whether the kernel's rows were unrolled: a row reduction over at
/// most 16 elements becomes straight-line code per row, in a loop over rows
/// that vectorizes across them however long each row's code is.
bool emit_loop_kernel(llvm::Module& m, const Program& p, const LoopKernel& k, const std::string& name);

}  // namespace dlc::cpu
