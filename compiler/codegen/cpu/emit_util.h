// Small building blocks shared by the CPU kernel emitters: the kernel
// function frame, counted loops, and typed element loads and stores.
#pragma once

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include <string>

#include "ir/types.h"

namespace dlc::cpu {

/// The frame of one generated kernel (runtime/cpu_executor.h, cpu_abi):
/// `void name(ptr buffers, i64 begin, i64 end, i64 seed, i64 step)` plus the exported constant
/// `name_range = {range, work_per_item}`. The builder is left in the entry
/// block.
struct KernelFrame {
  llvm::Function* fn = nullptr;
  llvm::Value* buffers = nullptr;
  llvm::Value* begin = nullptr;
  llvm::Value* end = nullptr;
  llvm::Value* seed = nullptr;  // the run's seed and step number (dropout masks)
  llvm::Value* step = nullptr;
};
KernelFrame begin_kernel(llvm::Module& m, llvm::IRBuilderBase& b, const std::string& name, int64_t range,
                         int64_t work_per_item);

/// Address of buffer `id`, read from the buffer table at the current point.
llvm::Value* buffer_address(llvm::IRBuilderBase& b, const KernelFrame& f, int id);

/// A loop `for (i = start; i < end; ++i)` with a guard, built in place:
/// after construction the builder is in the body; finish() closes it and
/// leaves the builder after the loop.
class CountedLoop {
 public:
  CountedLoop(llvm::IRBuilderBase& b, llvm::Value* start, llvm::Value* end, const char* name);
  llvm::Value* index() const { return index_; }
  /// With `access_group`, marks the loop's iterations as free of memory
  /// dependences through the accesses in that group (llvm.loop.parallel_accesses),
  /// which lets the vectorizer skip its aliasing checks.
  void finish(llvm::MDNode* access_group = nullptr);

 private:
  llvm::IRBuilderBase& b_;
  llvm::Value* end_;
  llvm::BasicBlock* body_;
  llvm::BasicBlock* exit_;
  llvm::PHINode* index_;
};

/// A fresh access group for CountedLoop::finish and the accesses below.
llvm::MDNode* new_access_group(llvm::LLVMContext& ctx);

/// Loads element `index` of a `dtype` buffer at `base` and converts it to
/// the floating type `as` (default float: integers exact up to 2^24; double:
/// i32 always, i64 up to 2^53; bool as 0/1). Tags it with `group`.
llvm::Value* load_as_float(llvm::IRBuilderBase& b, DType dtype, llvm::Value* base, llvm::Value* index,
                           llvm::MDNode* group = nullptr, llvm::Type* as = nullptr);

/// True for dtypes a float32 kernel would not hold exactly (f64, i32, i64):
/// a loop kernel touching one computes in double.
bool needs_double(DType dtype);

/// Converts float or double `v` to `dtype` (integers truncate toward zero and
/// saturate, NaN gives 0; bool stores 1 for any non-zero value, NaN
/// included) and stores it at element `index`.
void store_from_float(llvm::IRBuilderBase& b, DType dtype, llvm::Value* base, llvm::Value* index, llvm::Value* v,
                      llvm::MDNode* group = nullptr);

/// The LLVM type one element of `dtype` occupies in memory.
llvm::Type* element_type(llvm::LLVMContext& ctx, DType dtype);

}  // namespace dlc::cpu
