// Scalar expressions: the per-element body of an element-wise op.
//
// One expression tree per op serves three consumers: the reference
// interpreter evaluates it in float64, and the CPU (LLVM) and CUDA emitters
// print it. Operator overloads keep the registry entries readable:
//   .expr = [](Args x, const Node&) { return 1.0 / (1.0 + exp(-x[0])); }
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace dlc {

enum class ScalarOp {
  arg,       // the index-th operand
  constant,  // value
  add, sub, mul, div, neg,
  exp, log, log1p, sqrt, rsqrt, abs, sign, tanh, trunc,
  max, min, pow,
  greater, less, equal,  // 1.0 or 0.0
  select,                // args[0] != 0 ? args[1] : args[2]
};

struct ScalarNode;

/// A handle to an immutable expression node.
class SExpr {
 public:
  SExpr() = default;
  SExpr(double constant);  // NOLINT: implicit so `1.0 + x` reads naturally
  explicit SExpr(std::shared_ptr<const ScalarNode> n) : node_(std::move(n)) {}
  const ScalarNode& operator*() const { return *node_; }
  const ScalarNode* operator->() const { return node_.get(); }
  const ScalarNode* get() const { return node_.get(); }

 private:
  friend struct ScalarNode;  // its destructor unlinks chains iteratively
  std::shared_ptr<const ScalarNode> node_;
};

struct ScalarNode {
  ScalarOp op;
  int index = 0;      // for arg
  double value = 0;   // for constant
  std::vector<SExpr> args;

  /// Releases operands it owns alone without recursing once per level, so
  /// dropping a long chain (a deep fused expression, a chain read from a
  /// file) cannot overflow the stack.
  ~ScalarNode();
};

using Args = const std::vector<SExpr>&;

SExpr arg(int index);
SExpr make(ScalarOp op, std::vector<SExpr> args);

SExpr operator+(SExpr a, SExpr b);
SExpr operator-(SExpr a, SExpr b);
SExpr operator*(SExpr a, SExpr b);
SExpr operator/(SExpr a, SExpr b);
SExpr operator-(SExpr a);
SExpr exp(SExpr a);
SExpr log(SExpr a);
SExpr log1p(SExpr a);
SExpr sqrt(SExpr a);
SExpr rsqrt(SExpr a);
SExpr abs(SExpr a);
SExpr sign(SExpr a);
SExpr tanh(SExpr a);
SExpr trunc(SExpr a);
SExpr max(SExpr a, SExpr b);
SExpr min(SExpr a, SExpr b);
SExpr pow(SExpr a, SExpr b);
SExpr greater(SExpr a, SExpr b);
SExpr less(SExpr a, SExpr b);
SExpr equal(SExpr a, SExpr b);
SExpr select(SExpr cond, SExpr a, SExpr b);

/// Evaluates in float64 with `args` as the operands.
double eval_scalar(const SExpr& e, const double* args);

/// Prefix text, e.g. "(add (arg 0) 1)", for tests and dumps.
std::string scalar_to_string(const SExpr& e);

const char* scalar_op_name(ScalarOp op);

}  // namespace dlc
