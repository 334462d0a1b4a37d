#include "compiler/codegen/cpu/row_emitter.h"

#include <llvm/IR/IRBuilder.h>

#include <cmath>
#include <functional>

#include "compiler/codegen/cpu/emit_util.h"
#include "compiler/codegen/cpu/scalar_emitter.h"

namespace dlc::cpu {
namespace {

class RowEmitter {
 public:
  RowEmitter(llvm::Module& m, const Program& p, const RowKernel& r, const std::string& name)
      : m_(m), p_(p), r_(r), name_(name), b_(m.getContext()) {}

  void emit() {
    frame_ = begin_kernel(m_, b_, name_, r_.rows, r_.cols);
    b_.setFastMathFlags(kernel_fast_math());
    entry_ = b_.GetInsertBlock();
    x_ = buffer_address(b_, frame_, r_.x);
    out_ = buffer_address(b_, frame_, r_.out);
    llvm::Value* labels = r_.labels >= 0 ? buffer_address(b_, frame_, r_.labels) : nullptr;
    llvm::Value* scratch = r_.scratch >= 0 ? buffer_address(b_, frame_, r_.scratch) : nullptr;
    llvm::Value* scale = nullptr;
    if (r_.op == RowOp::softmax_xent_grad)
      scale = load_as_float(b_, dtype(r_.scale), buffer_address(b_, frame_, r_.scale), b_.getInt64(0));
    llvm::AllocaInst* max_acc = entry_alloca(b_.getFloatTy(), "max");
    llvm::AllocaInst* sum_acc = entry_alloca(b_.getDoubleTy(), "sum");

    CountedLoop row(b_, frame_.begin, frame_.end, "row");
    row_start_ = b_.CreateNSWMul(row.index(), b_.getInt64(r_.cols));

    // Row max, NaN-propagating like ScalarOp::max: a NaN row stays NaN.
    b_.CreateStore(llvm::ConstantFP::getInfinity(b_.getFloatTy(), true), max_acc);
    over_cols(false, [&](llvm::Value* c) {
      llvm::Value* v = x_at(c);
      llvm::Value* acc = b_.CreateLoad(b_.getFloatTy(), max_acc);
      llvm::Value* picked = b_.CreateSelect(b_.CreateFCmpOGT(v, acc), v, acc);
      b_.CreateStore(b_.CreateSelect(b_.CreateFCmpUNO(acc, v), llvm::ConstantFP::getNaN(b_.getFloatTy()), picked),
                     max_acc);
    });
    max_ = b_.CreateLoad(b_.getFloatTy(), max_acc);

    // Sum of exponentials in double; lanes may split the sum (a fixed order).
    b_.CreateStore(llvm::ConstantFP::get(b_.getDoubleTy(), 0.0), sum_acc);
    over_cols(false, [&](llvm::Value* c) {
      llvm::Value* acc = b_.CreateLoad(b_.getDoubleTy(), sum_acc);
      llvm::IRBuilderBase::FastMathFlagGuard guard(b_);
      llvm::FastMathFlags reorder;
      reorder.setAllowReassoc(true);
      b_.setFastMathFlags(reorder);
      b_.CreateStore(b_.CreateFAdd(acc, b_.CreateFPExt(shifted_exp(c), b_.getDoubleTy())), sum_acc);
    });
    sum_ = b_.CreateFPTrunc(b_.CreateLoad(b_.getDoubleTy(), sum_acc), b_.getFloatTy());

    switch (r_.op) {
      case RowOp::softmax:
        over_cols(true, [&](llvm::Value* c) { store_out(c, b_.CreateFDiv(shifted_exp(c), sum_)); });
        break;
      case RowOp::log_softmax: {
        llvm::Value* log_sum = b_.CreateUnaryIntrinsic(llvm::Intrinsic::log, sum_);
        over_cols(true, [&](llvm::Value* c) { store_out(c, b_.CreateFSub(b_.CreateFSub(x_at(c), max_), log_sum)); });
        break;
      }
      case RowOp::softmax_xent: {
        // loss = logsumexp(row) - row[label]; NaN for a label outside the row.
        llvm::Value* label = label_at(labels, row.index());
        llvm::Value* valid = label_valid(label);
        llvm::Value* safe = b_.CreateSelect(valid, label, b_.getInt64(0));
        llvm::Value* lse = b_.CreateFAdd(max_, b_.CreateUnaryIntrinsic(llvm::Intrinsic::log, sum_));
        llvm::Value* loss = b_.CreateFSub(lse, x_at(safe));
        loss = b_.CreateSelect(valid, loss, llvm::ConstantFP::getNaN(b_.getFloatTy()));
        store_from_float(b_, dtype(r_.scratch), scratch, row.index(), loss);
        break;
      }
      case RowOp::softmax_xent_grad: {
        // A label outside the row matches no column (a zero one-hot row).
        llvm::Value* label = label_at(labels, row.index());
        over_cols(true, [&](llvm::Value* c) {
          llvm::Value* p = b_.CreateFDiv(shifted_exp(c), sum_);
          llvm::Value* hot = b_.CreateSelect(b_.CreateICmpEQ(c, label), fc(1.0), fc(0.0));
          store_out(c, b_.CreateFMul(b_.CreateFSub(p, hot), scale));
        });
        break;
      }
    }
    row.finish();
    b_.CreateRetVoid();
    if (r_.op == RowOp::softmax_xent) emit_mean_finish();
  }

 private:
  DType dtype(int buffer) const { return p_.buffers[buffer].dtype; }
  llvm::Value* fc(double v) { return llvm::ConstantFP::get(b_.getFloatTy(), v); }

  llvm::AllocaInst* entry_alloca(llvm::Type* t, const char* name) {
    llvm::IRBuilder<> eb(entry_, entry_->begin());
    return eb.CreateAlloca(t, nullptr, name);
  }

  /// Runs `body(c)` for c in [0, cols); `parallel` marks the columns
  /// independent (output passes) so the loop vectorizes without checks.
  void over_cols(bool parallel, const std::function<void(llvm::Value*)>& body) {
    CountedLoop col(b_, b_.getInt64(0), b_.getInt64(r_.cols), "col");
    group_ = parallel ? new_access_group(m_.getContext()) : nullptr;
    body(col.index());
    col.finish(group_);
    group_ = nullptr;
  }

  llvm::Value* x_at(llvm::Value* c) {
    return load_as_float(b_, dtype(r_.x), x_, b_.CreateNSWAdd(row_start_, c), group_);
  }
  llvm::Value* shifted_exp(llvm::Value* c) { return emit_exp(b_, b_.CreateFSub(x_at(c), max_)); }
  void store_out(llvm::Value* c, llvm::Value* v) {
    store_from_float(b_, dtype(r_.out), out_, b_.CreateNSWAdd(row_start_, c), v, group_);
  }

  /// The label of `row` as i64 (a float label truncates, NaN becomes 0).
  llvm::Value* label_at(llvm::Value* labels, llvm::Value* row) {
    DType t = dtype(r_.labels);
    if (t == DType::i32 || t == DType::i64) {
      llvm::Type* et = element_type(m_.getContext(), t);
      llvm::Value* v = b_.CreateLoad(et, b_.CreateInBoundsGEP(et, labels, row));
      return b_.CreateSExtOrTrunc(v, b_.getInt64Ty());
    }
    llvm::Value* f = load_as_float(b_, t, labels, row);
    return b_.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {b_.getInt64Ty(), b_.getFloatTy()}, {f});
  }

  llvm::Value* label_valid(llvm::Value* label) {
    return b_.CreateAnd(b_.CreateICmpSGE(label, b_.getInt64(0)), b_.CreateICmpSLT(label, b_.getInt64(r_.cols)));
  }

  // out[0] = sum of the per-row losses, in row order, over rows.
  void emit_mean_finish() {
    KernelFrame f = begin_kernel(m_, b_, name_ + "_finish", 1, r_.rows);
    llvm::Value* scratch = buffer_address(b_, f, r_.scratch);
    llvm::Value* out = buffer_address(b_, f, r_.out);
    llvm::BasicBlock* entry = b_.GetInsertBlock();
    llvm::AllocaInst* sum = llvm::IRBuilder<>(entry, entry->begin()).CreateAlloca(b_.getDoubleTy(), nullptr, "sum");
    b_.CreateStore(llvm::ConstantFP::get(b_.getDoubleTy(), 0.0), sum);
    {
      CountedLoop row(b_, b_.getInt64(0), b_.getInt64(r_.rows), "row");
      llvm::Value* loss = b_.CreateFPExt(load_as_float(b_, dtype(r_.scratch), scratch, row.index()), b_.getDoubleTy());
      b_.CreateStore(b_.CreateFAdd(b_.CreateLoad(b_.getDoubleTy(), sum), loss), sum);
      row.finish();
    }
    llvm::Value* mean = b_.CreateFDiv(b_.CreateLoad(b_.getDoubleTy(), sum),
                                      llvm::ConstantFP::get(b_.getDoubleTy(), static_cast<double>(r_.rows)));
    store_from_float(b_, dtype(r_.out), out, b_.getInt64(0), b_.CreateFPTrunc(mean, b_.getFloatTy()));
    b_.CreateRetVoid();
  }

  llvm::Module& m_;
  const Program& p_;
  const RowKernel& r_;
  std::string name_;
  llvm::IRBuilder<> b_;
  KernelFrame frame_;
  llvm::BasicBlock* entry_ = nullptr;
  llvm::Value* x_ = nullptr;
  llvm::Value* out_ = nullptr;
  llvm::Value* row_start_ = nullptr;
  llvm::Value* max_ = nullptr;
  llvm::Value* sum_ = nullptr;
  llvm::MDNode* group_ = nullptr;
};

}  // namespace

void emit_row_kernel(llvm::Module& m, const Program& p, const RowKernel& r, const std::string& name) {
  RowEmitter(m, p, r, name).emit();
}

}  // namespace dlc::cpu
