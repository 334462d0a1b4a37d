#include "compiler/codegen/cuda/cuda_scalar.h"

#include "ir/error.h"
#include "ir/scalar_walk.h"

namespace dlc::cuda {

// Each distinct node once (ir/scalar_walk.h): a per-path walk is exponential in a DAG's depth.
std::vector<int> args_of(const SExpr& e) { return scalar_args({e.get()}); }

ScalarPrinter::ScalarPrinter(std::string* out, std::string indent, ComputeType t, std::vector<std::string> args,
                             int* counter)
    : out_(out), indent_(std::move(indent)), t_(t), args_(std::move(args)), counter_(counter) {}

std::string ScalarPrinter::print(const SExpr& e) {
  auto it = done_.find(e.get());
  if (it != done_.end()) return it->second;
  // Operands first, left to right, each printed once: the statements (and
  // variable numbers) a recursive walk gives, without recursing per level.
  for (const ScalarNode* n : scalar_post_order(e))
    if (!done_.count(n)) print_node(*n);
  return done_.at(e.get());
}

void ScalarPrinter::print_node(const ScalarNode& n) {
  const ScalarNode* e = &n;
  std::string value;
  if (e->op == ScalarOp::arg) {
    if (e->index < 0 || e->index >= static_cast<int>(args_.size()) || args_[e->index].empty())
      throw Error("scalar expression reads operand " + std::to_string(e->index) + " but the kernel has " +
                  std::to_string(args_.size()));
    value = args_[e->index];
  } else if (e->op == ScalarOp::constant) {
    value = literal(e->value, t_);
  } else {
    std::string text = node_text(*e);
    value = "v" + std::to_string((*counter_)++);
    *out_ += indent_ + "const " + c_type(t_) + " " + value + " = " + text + ";\n";
  }
  done_.emplace(e, value);
}

std::string ScalarPrinter::call(const char* name, const std::string& a) {
  // The float function is the double one with an 'f' (expf, tanhf, ...).
  return std::string(name) + (t_ == ComputeType::f32 ? "f(" : "(") + a + ")";
}

std::string ScalarPrinter::node_text(const ScalarNode& n) {
  // Operands first, in order, so the statements read top to bottom.
  std::vector<std::string> ops;
  for (const auto& arg : n.args) ops.push_back(done_.at(arg.get()));
  auto a = [&](size_t i) { return ops.at(i); };
  std::string one = literal(1, t_), zero = literal(0, t_);
  switch (n.op) {
    case ScalarOp::arg:
    case ScalarOp::constant: break;  // handled by print()
    case ScalarOp::add: return a(0) + " + " + a(1);
    case ScalarOp::sub: return a(0) + " - " + a(1);
    case ScalarOp::mul: return a(0) + " * " + a(1);
    case ScalarOp::div: return a(0) + " / " + a(1);
    case ScalarOp::neg: return "-" + a(0);
    case ScalarOp::exp: return call("exp", a(0));
    case ScalarOp::log: return call("log", a(0));
    case ScalarOp::log1p: return call("log1p", a(0));
    case ScalarOp::sqrt: return call("sqrt", a(0));
    case ScalarOp::rsqrt: return one + " / " + call("sqrt", a(0));  // as the cpu target: a correctly rounded sqrt
    case ScalarOp::abs: return call("fabs", a(0));
    case ScalarOp::tanh: return call("tanh", a(0));
    case ScalarOp::trunc: return call("trunc", a(0));
    case ScalarOp::pow: return std::string(t_ == ComputeType::f32 ? "powf(" : "pow(") + a(0) + ", " + a(1) + ")";
    case ScalarOp::sign: return "dlc_sign(" + a(0) + ")";
    case ScalarOp::max: return "dlc_max(" + a(0) + ", " + a(1) + ")";
    case ScalarOp::min: return "dlc_min(" + a(0) + ", " + a(1) + ")";
    // Ordered compares: NaN gives 0.
    case ScalarOp::greater: return "(" + a(0) + " > " + a(1) + " ? " + one + " : " + zero + ")";
    case ScalarOp::less: return "(" + a(0) + " < " + a(1) + " ? " + one + " : " + zero + ")";
    case ScalarOp::equal: return "(" + a(0) + " == " + a(1) + " ? " + one + " : " + zero + ")";
    // C's != is unordered: a NaN condition selects the first branch.
    case ScalarOp::select: return "(" + a(0) + " != " + zero + " ? " + a(1) + " : " + a(2) + ")";
  }
  throw Error(std::string("scalar op '") + scalar_op_name(n.op) + "' has no CUDA lowering");
}

}  // namespace dlc::cuda
