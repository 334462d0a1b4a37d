// Scalar expressions (ir/scalar_expr.h) as float32 LLVM IR.
//
// The CPU twin of the reference interpreter's eval_scalar: the same tree,
// the same NaN behaviour. Arithmetic may contract into FMAs but never
// assumes finite values (no nnan/ninf), so a diverged value stays visible.
#pragma once

#include <llvm/ADT/ArrayRef.h>
#include <llvm/IR/IRBuilder.h>

#include "ir/scalar_expr.h"

namespace dlc::cpu {

/// Emits `e` at `b`'s insertion point with `args[i]` (float values) as
/// operand i. A node shared in the DAG is emitted once. Throws dlc::Error
/// for an operand index outside `args`.
llvm::Value* emit_scalar(llvm::IRBuilderBase& b, const SExpr& e, llvm::ArrayRef<llvm::Value*> args);

/// exp(x) for float `x` without a libm call, so loops that use it
/// vectorize: Cephes' expf polynomial (about 2 ulp), exact at the edges
/// (NaN stays NaN, overflow gives +inf, underflow 0).
llvm::Value* emit_exp(llvm::IRBuilderBase& b, llvm::Value* x);

/// exp(x) for double `x` without a libm call, for the kernels that compute
/// in double (those touching integer or f64 buffers, such as a loss over
/// integer labels): Cephes' exp rational approximation (within about 1
/// ulp), with the same edges as emit_exp.
llvm::Value* emit_exp_f64(llvm::IRBuilderBase& b, llvm::Value* x);

/// tanh(x) for float `x` without a libm call: Eigen's rational
/// approximation on [-7.9, 7.9] (±1 beyond), x itself for tiny |x|; NaN
/// stays NaN.
llvm::Value* emit_tanh(llvm::IRBuilderBase& b, llvm::Value* x);

/// The fast-math flags every emitted float instruction carries: FMA
/// contraction only; NaN, infinities and signed zeros keep IEEE meaning.
/// Not `arcp`: on x86 it turns x / sqrt(y) into an rsqrt estimate, which
/// is 2^-22 accurate and gives NaN for y = inf (the tests catch it).
llvm::FastMathFlags kernel_fast_math();

}  // namespace dlc::cpu
