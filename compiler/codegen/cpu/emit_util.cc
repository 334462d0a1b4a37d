#include "compiler/codegen/cpu/emit_util.h"

#include <llvm/IR/Intrinsics.h>

namespace dlc::cpu {

KernelFrame begin_kernel(llvm::Module& m, llvm::IRBuilderBase& b, const std::string& name, int64_t range,
                         int64_t work_per_item) {
  llvm::LLVMContext& ctx = m.getContext();
  llvm::Type* i64 = llvm::Type::getInt64Ty(ctx);
  llvm::Type* ptr = llvm::PointerType::getUnqual(ctx);
  auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, i64, i64, i64, i64}, false);
  KernelFrame f;
  f.fn = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, m);
  f.fn->setDoesNotThrow();
  // The buffer table is only read; kernels never capture it.
  f.fn->addParamAttr(0, llvm::Attribute::NoAlias);
  f.fn->addParamAttr(0, llvm::Attribute::ReadOnly);
  f.fn->addParamAttr(0, llvm::Attribute::NoCapture);
  f.buffers = f.fn->getArg(0);
  f.begin = f.fn->getArg(1);
  f.end = f.fn->getArg(2);
  f.seed = f.fn->getArg(3);
  f.step = f.fn->getArg(4);
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", f.fn));

  auto* range_type = llvm::ArrayType::get(i64, 2);
  auto* init = llvm::ConstantArray::get(range_type, {b.getInt64(range), b.getInt64(work_per_item)});
  new llvm::GlobalVariable(m, range_type, true, llvm::GlobalValue::ExternalLinkage, init, name + "_range");
  return f;
}

llvm::Value* buffer_address(llvm::IRBuilderBase& b, const KernelFrame& f, int id) {
  llvm::Type* ptr = llvm::PointerType::getUnqual(b.getContext());
  llvm::Value* slot = b.CreateConstInBoundsGEP1_64(ptr, f.buffers, static_cast<uint64_t>(id));
  auto* load = b.CreateLoad(ptr, slot, "b" + std::to_string(id));
  // Buffer addresses do not change while a kernel runs; telling LLVM lets it
  // hoist this load out of every loop.
  load->setMetadata(llvm::LLVMContext::MD_invariant_load, llvm::MDNode::get(b.getContext(), {}));
  return load;
}

CountedLoop::CountedLoop(llvm::IRBuilderBase& b, llvm::Value* start, llvm::Value* end, const char* name)
    : b_(b), end_(end) {
  llvm::Function* fn = b.GetInsertBlock()->getParent();
  llvm::BasicBlock* pre = b.GetInsertBlock();
  body_ = llvm::BasicBlock::Create(b.getContext(), name, fn);
  exit_ = llvm::BasicBlock::Create(b.getContext(), std::string(name) + ".exit", fn);
  b.CreateCondBr(b.CreateICmpSLT(start, end), body_, exit_);
  b.SetInsertPoint(body_);
  index_ = b.CreatePHI(b.getInt64Ty(), 2, name);
  index_->addIncoming(start, pre);
}

void CountedLoop::finish(llvm::MDNode* access_group) {
  llvm::Value* next = b_.CreateAdd(index_, b_.getInt64(1), "", /*HasNUW=*/true, /*HasNSW=*/true);
  index_->addIncoming(next, b_.GetInsertBlock());
  llvm::BranchInst* latch = b_.CreateCondBr(b_.CreateICmpSLT(next, end_), body_, exit_);
  llvm::LLVMContext& ctx = b_.getContext();
  std::vector<llvm::Metadata*> props = {nullptr, llvm::MDNode::get(ctx, llvm::MDString::get(ctx, "llvm.loop.mustprogress"))};
  if (access_group)
    props.push_back(llvm::MDNode::get(ctx, {llvm::MDString::get(ctx, "llvm.loop.parallel_accesses"), access_group}));
  llvm::MDNode* loop_id = llvm::MDNode::getDistinct(ctx, props);
  loop_id->replaceOperandWith(0, loop_id);
  latch->setMetadata(llvm::LLVMContext::MD_loop, loop_id);
  b_.SetInsertPoint(exit_);
}

llvm::MDNode* new_access_group(llvm::LLVMContext& ctx) { return llvm::MDNode::getDistinct(ctx, {}); }

llvm::Type* element_type(llvm::LLVMContext& ctx, DType dtype) {
  switch (dtype) {
    case DType::f32: return llvm::Type::getFloatTy(ctx);
    case DType::f64: return llvm::Type::getDoubleTy(ctx);
    case DType::i32: return llvm::Type::getInt32Ty(ctx);
    case DType::i64: return llvm::Type::getInt64Ty(ctx);
    case DType::boolean: return llvm::Type::getInt8Ty(ctx);
  }
  return nullptr;
}

namespace {
void tag(llvm::Instruction* inst, llvm::MDNode* group) {
  if (group) inst->setMetadata(llvm::LLVMContext::MD_access_group, group);
}
}  // namespace

llvm::Value* load_as_float(llvm::IRBuilderBase& b, DType dtype, llvm::Value* base, llvm::Value* index,
                           llvm::MDNode* group, llvm::Type* as) {
  llvm::Type* et = element_type(b.getContext(), dtype);
  llvm::LoadInst* v = b.CreateLoad(et, b.CreateInBoundsGEP(et, base, index));
  tag(v, group);
  if (!as) as = b.getFloatTy();
  switch (dtype) {
    case DType::f32: return b.CreateFPExt(v, as);  // no-op for float
    case DType::f64: return b.CreateFPTrunc(v, as);  // no-op for double
    case DType::i32:
    case DType::i64: return b.CreateSIToFP(v, as);
    case DType::boolean: return b.CreateUIToFP(b.CreateICmpNE(v, b.getInt8(0)), as);
  }
  return v;
}

bool needs_double(DType dtype) { return dtype == DType::f64 || dtype == DType::i32 || dtype == DType::i64; }

void store_from_float(llvm::IRBuilderBase& b, DType dtype, llvm::Value* base, llvm::Value* index, llvm::Value* v,
                      llvm::MDNode* group) {
  llvm::Type* et = element_type(b.getContext(), dtype);
  llvm::Value* converted = v;
  switch (dtype) {
    case DType::f32: converted = b.CreateFPTrunc(v, et); break;  // no-op for float
    case DType::f64: converted = b.CreateFPExt(v, et); break;    // no-op for double
    case DType::i32:
    case DType::i64:
      converted = b.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {et, v->getType()}, {v});
      break;
    case DType::boolean:
      converted = b.CreateZExt(b.CreateFCmpUNE(v, llvm::ConstantFP::get(v->getType(), 0.0)), et);
      break;
  }
  tag(b.CreateStore(converted, b.CreateInBoundsGEP(et, base, index)), group);
}

}  // namespace dlc::cpu
