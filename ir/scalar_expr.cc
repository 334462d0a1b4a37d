#include "ir/scalar_expr.h"

#include <cmath>
#include <stdexcept>

namespace dlc {

ScalarNode::~ScalarNode() {
  // Operands only this node holds would die inside this destructor, each in
  // turn inside its own: move them to a local list instead and empty their
  // operand lists before they go, so every node dies at depth one.
  std::vector<std::shared_ptr<const ScalarNode>> dying;
  auto take = [&](std::vector<SExpr>& from) {
    for (SExpr& a : from)
      if (a.node_ && a.node_.use_count() == 1) dying.push_back(std::move(a.node_));
    from.clear();
  };
  take(args);
  while (!dying.empty()) {
    std::shared_ptr<const ScalarNode> n = std::move(dying.back());
    dying.pop_back();
    // Sole owner, and every node is created non-const (make_shared<ScalarNode>).
    take(const_cast<ScalarNode&>(*n).args);
  }
}

namespace {

// Built in place: ScalarNode's destructor leaves it without an implicit
// move constructor, so a temporary would copy its operand list.
std::shared_ptr<ScalarNode> new_node(ScalarOp op, int index, double value, std::vector<SExpr> args) {
  auto n = std::make_shared<ScalarNode>();
  n->op = op;
  n->index = index;
  n->value = value;
  n->args = std::move(args);
  return n;
}

}  // namespace

SExpr::SExpr(double constant) : node_(new_node(ScalarOp::constant, 0, constant, {})) {}

SExpr arg(int index) { return SExpr(new_node(ScalarOp::arg, index, 0, {})); }

SExpr make(ScalarOp op, std::vector<SExpr> args) { return SExpr(new_node(op, 0, 0, std::move(args))); }

SExpr operator+(SExpr a, SExpr b) { return make(ScalarOp::add, {a, b}); }
SExpr operator-(SExpr a, SExpr b) { return make(ScalarOp::sub, {a, b}); }
SExpr operator*(SExpr a, SExpr b) { return make(ScalarOp::mul, {a, b}); }
SExpr operator/(SExpr a, SExpr b) { return make(ScalarOp::div, {a, b}); }
SExpr operator-(SExpr a) { return make(ScalarOp::neg, {a}); }
SExpr exp(SExpr a) { return make(ScalarOp::exp, {a}); }
SExpr log(SExpr a) { return make(ScalarOp::log, {a}); }
SExpr log1p(SExpr a) { return make(ScalarOp::log1p, {a}); }
SExpr sqrt(SExpr a) { return make(ScalarOp::sqrt, {a}); }
SExpr rsqrt(SExpr a) { return make(ScalarOp::rsqrt, {a}); }
SExpr abs(SExpr a) { return make(ScalarOp::abs, {a}); }
SExpr sign(SExpr a) { return make(ScalarOp::sign, {a}); }
SExpr tanh(SExpr a) { return make(ScalarOp::tanh, {a}); }
SExpr trunc(SExpr a) { return make(ScalarOp::trunc, {a}); }
SExpr max(SExpr a, SExpr b) { return make(ScalarOp::max, {a, b}); }
SExpr min(SExpr a, SExpr b) { return make(ScalarOp::min, {a, b}); }
SExpr pow(SExpr a, SExpr b) { return make(ScalarOp::pow, {a, b}); }
SExpr greater(SExpr a, SExpr b) { return make(ScalarOp::greater, {a, b}); }
SExpr less(SExpr a, SExpr b) { return make(ScalarOp::less, {a, b}); }
SExpr equal(SExpr a, SExpr b) { return make(ScalarOp::equal, {a, b}); }
SExpr select(SExpr c, SExpr a, SExpr b) { return make(ScalarOp::select, {c, a, b}); }

double eval_scalar(const SExpr& e, const double* args) {
  const ScalarNode& n = *e;
  auto a = [&](int i) { return eval_scalar(n.args[i], args); };
  switch (n.op) {
    case ScalarOp::arg: return args[n.index];
    case ScalarOp::constant: return n.value;
    case ScalarOp::add: return a(0) + a(1);
    case ScalarOp::sub: return a(0) - a(1);
    case ScalarOp::mul: return a(0) * a(1);
    case ScalarOp::div: return a(0) / a(1);
    case ScalarOp::neg: return -a(0);
    case ScalarOp::exp: return std::exp(a(0));
    case ScalarOp::log: return std::log(a(0));
    case ScalarOp::log1p: return std::log1p(a(0));
    case ScalarOp::sqrt: return std::sqrt(a(0));
    case ScalarOp::rsqrt: return 1.0 / std::sqrt(a(0));
    case ScalarOp::abs: return std::fabs(a(0));
    case ScalarOp::sign: { double x = a(0); return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }
    case ScalarOp::tanh: return std::tanh(a(0));
    case ScalarOp::trunc: return std::trunc(a(0));
    // NaN propagates through max/min so a diverged value is never hidden.
    case ScalarOp::max: { double x = a(0), y = a(1); return std::isnan(x) || std::isnan(y) ? NAN : (x > y ? x : y); }
    case ScalarOp::min: { double x = a(0), y = a(1); return std::isnan(x) || std::isnan(y) ? NAN : (x < y ? x : y); }
    case ScalarOp::pow: return std::pow(a(0), a(1));
    case ScalarOp::greater: return a(0) > a(1) ? 1.0 : 0.0;
    case ScalarOp::less: return a(0) < a(1) ? 1.0 : 0.0;
    case ScalarOp::equal: return a(0) == a(1) ? 1.0 : 0.0;
    case ScalarOp::select: return a(0) != 0.0 ? a(1) : a(2);
  }
  throw std::logic_error("unknown scalar op");
}

const char* scalar_op_name(ScalarOp op) {
  switch (op) {
    case ScalarOp::arg: return "arg";
    case ScalarOp::constant: return "const";
    case ScalarOp::add: return "add";
    case ScalarOp::sub: return "sub";
    case ScalarOp::mul: return "mul";
    case ScalarOp::div: return "div";
    case ScalarOp::neg: return "neg";
    case ScalarOp::exp: return "exp";
    case ScalarOp::log: return "log";
    case ScalarOp::log1p: return "log1p";
    case ScalarOp::sqrt: return "sqrt";
    case ScalarOp::rsqrt: return "rsqrt";
    case ScalarOp::abs: return "abs";
    case ScalarOp::sign: return "sign";
    case ScalarOp::tanh: return "tanh";
    case ScalarOp::trunc: return "trunc";
    case ScalarOp::max: return "max";
    case ScalarOp::min: return "min";
    case ScalarOp::pow: return "pow";
    case ScalarOp::greater: return "greater";
    case ScalarOp::less: return "less";
    case ScalarOp::equal: return "equal";
    case ScalarOp::select: return "select";
  }
  return "?";
}

std::string scalar_to_string(const SExpr& e) {
  const ScalarNode& n = *e;
  if (n.op == ScalarOp::arg) return "(arg " + std::to_string(n.index) + ")";
  if (n.op == ScalarOp::constant) {
    char buf[32];
    snprintf(buf, sizeof buf, "%g", n.value);
    return buf;
  }
  std::string s = "(" + std::string(scalar_op_name(n.op));
  for (const auto& a : n.args) s += " " + scalar_to_string(a);
  return s + ")";
}

}  // namespace dlc
