#include "compiler/codegen/cpu/scalar_emitter.h"

#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include <cmath>
#include <functional>
#include <initializer_list>
#include <string>
#include <unordered_map>

#include "ir/error.h"
#include "ir/scalar_walk.h"

namespace dlc::cpu {

llvm::FastMathFlags kernel_fast_math() {
  llvm::FastMathFlags f;
  f.setAllowContract(true);
  return f;
}

namespace {

// A libm function of one float or double (`name` is the double one; the
// float one adds 'f'), declared as pure so calls to it can be hoisted and
// merged; errno is never read by kernels.
llvm::FunctionCallee libm_unary(llvm::Module& m, std::string name, llvm::Type* t) {
  if (t->isFloatTy()) name += "f";
  llvm::FunctionCallee callee = m.getOrInsertFunction(name, llvm::FunctionType::get(t, {t}, false));
  if (auto* fn = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
    fn->setDoesNotAccessMemory();
    fn->setDoesNotThrow();
    fn->addFnAttr(llvm::Attribute::WillReturn);
  }
  return callee;
}

llvm::Value* poly(llvm::IRBuilderBase& b, llvm::Value* x, std::initializer_list<double> coefficients) {
  llvm::Type* t = x->getType();
  llvm::Value* acc = nullptr;
  for (double c : coefficients) {
    llvm::Value* k = llvm::ConstantFP::get(t, c);
    acc = acc ? b.CreateFAdd(b.CreateFMul(acc, x), k) : k;
  }
  return acc;
}

class Emitter {
 public:
  /// Computes in the type of the operands (all of one type: float, or
  /// double in kernels that touch integers), float when none is used.
  Emitter(llvm::IRBuilderBase& b, llvm::ArrayRef<llvm::Value*> args)
      : b_(b), args_(args), t_(b.getFloatTy()) {
    for (llvm::Value* a : args)  // unused operands are null
      if (a) t_ = a->getType();
  }

  llvm::Value* emit(const SExpr& e) {
    auto it = done_.find(e.get());
    if (it != done_.end()) return it->second;
    // Operands before users, each once, without recursing per level (an
    // expression may be deep); emit_node then finds its operands done.
    for (const ScalarNode* n : scalar_post_order(e))
      if (!done_.count(n)) done_.emplace(n, emit_node(*n));
    return done_.at(e.get());
  }

 private:
  llvm::Value* c(double v) { return llvm::ConstantFP::get(t_, v); }
  llvm::Value* nan() { return llvm::ConstantFP::getNaN(t_); }
  bool is_double() const { return t_->isDoubleTy(); }
  llvm::Value* as_float(llvm::Value* cond) { return b_.CreateSelect(cond, c(1.0), c(0.0)); }
  llvm::Value* unary(llvm::Intrinsic::ID id, llvm::Value* x) { return b_.CreateUnaryIntrinsic(id, x); }

  // max/min as compare + select: llvm.maxnum would drop a NaN operand, and
  // eval_scalar returns NaN when either side is NaN.
  llvm::Value* nan_propagating_pick(llvm::Value* x, llvm::Value* y, bool want_max) {
    llvm::Value* x_wins = want_max ? b_.CreateFCmpOGT(x, y) : b_.CreateFCmpOLT(x, y);
    llvm::Value* picked = b_.CreateSelect(x_wins, x, y);
    return b_.CreateSelect(b_.CreateFCmpUNO(x, y), nan(), picked);
  }

  llvm::Value* emit_node(const ScalarNode& n) {
    auto a = [&](int i) { return emit(n.args.at(i)); };
    switch (n.op) {
      case ScalarOp::arg:
        if (n.index < 0 || n.index >= static_cast<int>(args_.size()))
          throw Error("scalar expression reads operand " + std::to_string(n.index) + " but the kernel has " +
                      std::to_string(args_.size()));
        return args_[n.index];
      case ScalarOp::constant: return c(n.value);
      case ScalarOp::add: return b_.CreateFAdd(a(0), a(1));
      case ScalarOp::sub: return b_.CreateFSub(a(0), a(1));
      case ScalarOp::mul: return b_.CreateFMul(a(0), a(1));
      case ScalarOp::div: return b_.CreateFDiv(a(0), a(1));
      case ScalarOp::neg: return b_.CreateFNeg(a(0));
      case ScalarOp::exp: return is_double() ? emit_exp_f64(b_, a(0)) : emit_exp(b_, a(0));
      case ScalarOp::log: return unary(llvm::Intrinsic::log, a(0));
      case ScalarOp::sqrt: return unary(llvm::Intrinsic::sqrt, a(0));
      case ScalarOp::rsqrt: return b_.CreateFDiv(c(1.0), unary(llvm::Intrinsic::sqrt, a(0)));
      case ScalarOp::abs: return unary(llvm::Intrinsic::fabs, a(0));
      case ScalarOp::trunc: return unary(llvm::Intrinsic::trunc, a(0));
      case ScalarOp::log1p: return b_.CreateCall(libm_unary(*module(), "log1p", t_), {a(0)});
      case ScalarOp::tanh:
        return is_double() ? b_.CreateCall(libm_unary(*module(), "tanh", t_), {a(0)}) : emit_tanh(b_, a(0));
      case ScalarOp::pow: return b_.CreateBinaryIntrinsic(llvm::Intrinsic::pow, a(0), a(1));
      case ScalarOp::sign: {
        // Ordered compares: sign(NaN) is 0, as in eval_scalar.
        llvm::Value* x = a(0);
        llvm::Value* neg_or_zero = b_.CreateSelect(b_.CreateFCmpOLT(x, c(0.0)), c(-1.0), c(0.0));
        return b_.CreateSelect(b_.CreateFCmpOGT(x, c(0.0)), c(1.0), neg_or_zero);
      }
      case ScalarOp::max: return nan_propagating_pick(a(0), a(1), true);
      case ScalarOp::min: return nan_propagating_pick(a(0), a(1), false);
      case ScalarOp::greater: return as_float(b_.CreateFCmpOGT(a(0), a(1)));
      case ScalarOp::less: return as_float(b_.CreateFCmpOLT(a(0), a(1)));
      case ScalarOp::equal: return as_float(b_.CreateFCmpOEQ(a(0), a(1)));
      // C's `!=` is unordered: a NaN condition selects the first branch.
      case ScalarOp::select: return b_.CreateSelect(b_.CreateFCmpUNE(a(0), c(0.0)), a(1), a(2));
    }
    throw Error(std::string("scalar op '") + scalar_op_name(n.op) + "' has no LLVM lowering");
  }

  llvm::Module* module() { return b_.GetInsertBlock()->getModule(); }

  llvm::IRBuilderBase& b_;
  llvm::ArrayRef<llvm::Value*> args_;
  llvm::Type* t_;
  std::unordered_map<const ScalarNode*, llvm::Value*> done_;
};

}  // namespace

namespace {

/// What exp needs to know of a floating type.
struct ExpType {
  double overflow;      // log of the largest finite value
  double underflow;     // exp of anything below rounds to 0
  double ln2_high, ln2_low;  // ln2 in two parts: n * ln2_high is exact
  int mantissa_bits, exponent_bias;
};

/// exp(x) in x's type as 2^n exp(r), x = n ln2 + r with |r| <= ln2/2, where
/// `exp_reduced` gives exp(r). NaN is computed on as 0 and put back at the
/// end, so no poison can form; overflow gives +inf, underflow 0. 2^n is
/// applied in two factors, each a normal number, so n just below overflow
/// and n into the denormals both scale correctly.
llvm::Value* emit_exp_reduced(llvm::IRBuilderBase& b, llvm::Value* x, const ExpType& k,
                              const std::function<llvm::Value*(llvm::Value*)>& exp_reduced) {
  llvm::IRBuilderBase::FastMathFlagGuard guard(b);
  b.setFastMathFlags(kernel_fast_math());
  llvm::Type* t = x->getType();
  llvm::Type* it = b.getIntNTy(t->getPrimitiveSizeInBits());
  auto c = [&](double v) { return llvm::ConstantFP::get(t, v); };
  llvm::Value* is_nan = b.CreateFCmpUNO(x, x);
  llvm::Value* v = b.CreateSelect(is_nan, c(0.0), x);
  v = b.CreateSelect(b.CreateFCmpOLT(v, c(k.underflow)), c(k.underflow), v);
  v = b.CreateSelect(b.CreateFCmpOGT(v, c(k.overflow)), c(k.overflow), v);
  llvm::Value* n = b.CreateUnaryIntrinsic(llvm::Intrinsic::floor, b.CreateFAdd(b.CreateFMul(v, c(M_LOG2E)), c(0.5)));
  llvm::Value* r = b.CreateFSub(b.CreateFSub(v, b.CreateFMul(n, c(k.ln2_high))), b.CreateFMul(n, c(k.ln2_low)));
  llvm::Value* ni = b.CreateFPToSI(n, it);
  llvm::Value* half = b.CreateAShr(ni, 1);
  auto pow2 = [&](llvm::Value* e) {
    llvm::Value* biased = b.CreateAdd(e, llvm::ConstantInt::get(it, k.exponent_bias));
    return b.CreateBitCast(b.CreateShl(biased, llvm::ConstantInt::get(it, k.mantissa_bits)), t);
  };
  llvm::Value* result = b.CreateFMul(b.CreateFMul(exp_reduced(r), pow2(half)), pow2(b.CreateSub(ni, half)));
  result = b.CreateSelect(b.CreateFCmpOGT(x, c(k.overflow)), c(INFINITY), result);
  return b.CreateSelect(is_nan, x, result);
}

}  // namespace

llvm::Value* emit_exp(llvm::IRBuilderBase& b, llvm::Value* x) {
  // Cephes expf: a degree-7 polynomial in r.
  const ExpType f32{88.72283905206835, -104.0, 0.693359375, -2.12194440e-4, 23, 127};
  return emit_exp_reduced(b, x, f32, [&](llvm::Value* r) {
    llvm::Value* p = poly(b, r, {1.9875691500E-4, 1.3981999507E-3, 8.3334519073E-3, 4.1665795894E-2,
                                 1.6666665459E-1, 5.0000001201E-1});
    return b.CreateFAdd(b.CreateFAdd(b.CreateFMul(b.CreateFMul(p, r), r), r), llvm::ConstantFP::get(r->getType(), 1.0));
  });
}

llvm::Value* emit_exp_f64(llvm::IRBuilderBase& b, llvm::Value* x) {
  // Cephes exp: exp(r) = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2)), within 2^-53.
  const ExpType f64{709.782712893383973096, -746.0, 6.93145751953125E-1, 1.42860682030941723212E-6, 52, 1023};
  return emit_exp_reduced(b, x, f64, [&](llvm::Value* r) {
    auto c = [&](double v) { return llvm::ConstantFP::get(r->getType(), v); };
    llvm::Value* rr = b.CreateFMul(r, r);
    llvm::Value* px = b.CreateFMul(r, poly(b, rr, {1.26177193074810590878E-4, 3.02994407707441961300E-2,
                                                   9.99999999999999999910E-1}));
    llvm::Value* qx = poly(b, rr, {3.00198505138664455042E-6, 2.52448340349684104192E-3,
                                   2.27265548208155028766E-1, 2.00000000000000000009E0});
    return b.CreateFAdd(c(1.0), b.CreateFMul(c(2.0), b.CreateFDiv(px, b.CreateFSub(qx, px))));
  });
}

llvm::Value* emit_tanh(llvm::IRBuilderBase& b, llvm::Value* x) {
  llvm::IRBuilderBase::FastMathFlagGuard guard(b);
  b.setFastMathFlags(kernel_fast_math());
  llvm::Type* f32 = b.getFloatTy();
  auto c = [&](double v) { return llvm::ConstantFP::get(f32, v); };
  // Beyond ±7.9 tanh rounds to ±1 in float. Ordered compares keep NaN.
  constexpr double kClamp = 7.90531110763549805;
  llvm::Value* v = b.CreateSelect(b.CreateFCmpOGT(x, c(kClamp)), c(kClamp), x);
  v = b.CreateSelect(b.CreateFCmpOLT(v, c(-kClamp)), c(-kClamp), v);
  llvm::Value* x2 = b.CreateFMul(v, v);
  llvm::Value* p = poly(b, x2, {-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
                                5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04,
                                4.89352455891786e-03});
  p = b.CreateFMul(p, v);
  llvm::Value* q = poly(b, x2, {1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03});
  llvm::Value* r = b.CreateFDiv(p, q);
  // Below 4e-4, tanh(x) is x to float precision (and keeps -0 and denormals).
  llvm::Value* tiny = b.CreateFCmpOLT(b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x), c(0.0004));
  return b.CreateSelect(tiny, x, r);
}

llvm::Value* emit_scalar(llvm::IRBuilderBase& b, const SExpr& e, llvm::ArrayRef<llvm::Value*> args) {
  llvm::IRBuilderBase::FastMathFlagGuard guard(b);
  b.setFastMathFlags(kernel_fast_math());
  return Emitter(b, args).emit(e);
}

}  // namespace dlc::cpu
