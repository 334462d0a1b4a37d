// Dropout's keep bit (ir/philox.h) as LLVM IR, for mask loads (Access::mask).
#pragma once

#include <llvm/IR/IRBuilder.h>

#include "kernel/kernel_ir.h"

namespace dlc::cpu {

/// 1.0 where dropout_keep(seed, mask.key, step, index, mask.rate) holds,
/// else 0.0, as a value of floating type `as`. `seed`, `step` and `index`
/// are i64 values; the ten Philox rounds are emitted inline, so the loop
/// around them still vectorizes.
llvm::Value* emit_dropout_keep(llvm::IRBuilderBase& b, const DropoutMask& mask, llvm::Value* seed, llvm::Value* step,
                               llvm::Value* index, llvm::Type* as);

}  // namespace dlc::cpu
