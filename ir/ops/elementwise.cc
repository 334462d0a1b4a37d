// Element-wise ops: one scalar expression each, broadcast over numpy shapes.
#include "ir/op_registry.h"

namespace dlc {
namespace {

OpDef unary(const std::string& name, std::function<SExpr(SExpr)> f, const std::string& doc) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 1;
  d.infer = infer_broadcast;
  d.expr = [f](Args x, const Node&) { return f(x[0]); };
  d.fusion = FusionClass::elementwise;
  d.doc = doc;
  return d;
}

OpDef binary(const std::string& name, std::function<SExpr(SExpr, SExpr)> f, const std::string& doc) {
  OpDef d = unary(name, nullptr, doc);
  d.min_inputs = d.max_inputs = 2;
  d.expr = [f](Args x, const Node&) { return f(x[0], x[1]); };
  return d;
}

/// Comparisons broadcast like arithmetic but produce bool.
OpDef comparison(const std::string& name, std::function<SExpr(SExpr, SExpr)> f, const std::string& doc) {
  OpDef d = binary(name, f, doc);
  d.infer = [](const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
    std::string err = infer_broadcast(n, in, out);
    if (err.empty()) (*out)[0].dtype = DType::boolean;
    return err;
  };
  return d;
}

std::string infer_where(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  if (in[0].dtype != DType::boolean) return "condition must be bool, got " + in[0].str();
  std::vector<TensorType> branches;
  std::string err = infer_broadcast(n, {in[1], in[2]}, &branches);
  if (!err.empty()) return err;
  TensorType r = branches[0];
  if (!broadcast_dims(in[0].dims, r.dims, &r.dims))
    return "condition shape " + in[0].str() + " does not broadcast with " + branches[0].str();
  out->push_back(r);
  return "";
}

std::string infer_cast(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  TensorType r = in[0];
  r.dtype = n.attr_dtype("dtype");
  out->push_back(r);
  return "";
}

SExpr cast_expr(Args x, const Node& n) {
  DType to = n.attr_dtype("dtype");
  if (is_integer(to)) return trunc(x[0]);
  if (to == DType::boolean) return 1.0 - equal(x[0], 0.0);
  return x[0];
}

}  // namespace

void register_elementwise_ops(OpRegistry& r) {
  r.add(binary("add", [](SExpr a, SExpr b) { return a + b; }, "a + b"));
  r.add(binary("sub", [](SExpr a, SExpr b) { return a - b; }, "a - b"));
  r.add(binary("mul", [](SExpr a, SExpr b) { return a * b; }, "a * b"));
  r.add(binary("div", [](SExpr a, SExpr b) { return a / b; }, "a / b"));
  r.add(binary("pow", [](SExpr a, SExpr b) { return pow(a, b); }, "a ** b"));
  r.add(binary("maximum", [](SExpr a, SExpr b) { return max(a, b); }, "max(a, b); NaN propagates"));
  r.add(binary("minimum", [](SExpr a, SExpr b) { return min(a, b); }, "min(a, b); NaN propagates"));

  r.add(unary("neg", [](SExpr x) { return -x; }, "-x"));
  r.add(unary("exp", [](SExpr x) { return exp(x); }, "e^x"));
  r.add(unary("log", [](SExpr x) { return log(x); }, "natural logarithm"));
  r.add(unary("sqrt", [](SExpr x) { return sqrt(x); }, "square root"));
  r.add(unary("rsqrt", [](SExpr x) { return rsqrt(x); }, "1 / sqrt(x)"));
  r.add(unary("abs", [](SExpr x) { return abs(x); }, "|x|"));
  r.add(unary("sign", [](SExpr x) { return sign(x); }, "-1, 0 or 1"));
  r.add(unary("square", [](SExpr x) { return x * x; }, "x * x"));
  r.add(unary("relu", [](SExpr x) { return max(x, 0.0); }, "max(x, 0); relu'(0) = 0"));
  r.add(unary("sigmoid", [](SExpr x) { return 1.0 / (1.0 + exp(-x)); }, "1 / (1 + e^-x)"));
  r.add(unary("tanh", [](SExpr x) { return tanh(x); }, "hyperbolic tangent"));
  // softplus(x) = max(x, 0) + log1p(e^-|x|): exact and overflow-free for large |x|.
  r.add(unary("softplus", [](SExpr x) { return max(x, 0.0) + log1p(exp(-abs(x))); }, "log(1 + e^x), stable"));

  r.add(comparison("greater", [](SExpr a, SExpr b) { return greater(a, b); }, "a > b, bool"));
  r.add(comparison("less", [](SExpr a, SExpr b) { return less(a, b); }, "a < b, bool"));
  r.add(comparison("equal", [](SExpr a, SExpr b) { return equal(a, b); }, "a == b, bool"));

  OpDef where = unary("where", nullptr, "cond ? a : b, broadcast");
  where.min_inputs = where.max_inputs = 3;
  where.infer = infer_where;
  where.expr = [](Args x, const Node&) { return select(x[0], x[1], x[2]); };
  r.add(where);

  OpDef cast = unary("cast", nullptr, "convert to attr dtype; floats truncate toward zero into integers");
  cast.attrs = {{"dtype", AttrKind::dtype, true}};
  cast.infer = infer_cast;
  cast.expr = cast_expr;
  r.add(cast);
}

}  // namespace dlc
