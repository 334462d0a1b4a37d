// Element-wise ops: one scalar expression each, broadcast over numpy shapes.
#include "ir/builder.h"
#include "ir/grad_util.h"
#include "ir/op_registry.h"

namespace dlc {
namespace {

OpDef unary(const std::string& name, std::function<SExpr(SExpr)> f, const std::string& doc) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 1;
  d.infer = infer_broadcast;
  d.expr = [f](Args x, const Node&) { return f(x[0]); };
  d.lowering = Lowering::elementwise;
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


// --- Gradient rules ---------------------------------------------------------------
// Each computes the gradient at the output's shape, then sum_to_shape undoes
// whatever broadcasting the forward op did to each operand.

using Grads = std::vector<std::string>;

OpDef with_grad(OpDef d, GradFn g) {
  d.grad = std::move(g);
  return d;
}

/// A one-input rule: dx = f(b, x, y, dy), with y the op's output.
using UnaryRule = std::function<std::string(GraphBuilder& b, const std::string& x, const std::string& y,
                                            const std::string& dy)>;
GradFn unary_grad(UnaryRule rule) {
  return [rule](GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) -> Grads {
    return {rule(b, n.inputs[0], n.outputs[0], dy[0])};
  };
}

/// A two-input rule giving both operands' gradients at the output shape.
using BinaryRule = std::function<std::pair<std::string, std::string>(
    GraphBuilder& b, const std::string& a, const std::string& c, const std::string& y, const std::string& dy)>;
GradFn binary_grad(BinaryRule rule) {
  return [rule](GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) -> Grads {
    auto [ga, gc] = rule(b, n.inputs[0], n.inputs[1], n.outputs[0], dy[0]);
    return {sum_to_shape(b, ga, b.type(n.inputs[0]).dims), sum_to_shape(b, gc, b.type(n.inputs[1]).dims)};
  };
}

std::string zero_like(GraphBuilder& b, const std::string& v) { return b.scalar(0.0, b.type(v).dtype); }
std::string constant_like(GraphBuilder& b, const std::string& v, double c) { return b.scalar(c, b.type(v).dtype); }

/// Gradient of where(c, a, b): dy flows to the branch the condition picked.
Grads grad_where(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  const std::string& c = n.inputs[0];
  std::string zero = zero_like(b, dy[0]);
  return {"", sum_to_shape(b, b.op("where", {c, dy[0], zero}), b.type(n.inputs[1]).dims),
          sum_to_shape(b, b.op("where", {c, zero, dy[0]}), b.type(n.inputs[2]).dims)};
}

/// Float-to-float casts pass the gradient through, cast back; casts to or
/// from integers and bool are piecewise constant and pass none.
Grads grad_cast(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  DType from = b.type(n.inputs[0]).dtype;
  if (!is_float(from) || !is_float(b.type(n.outputs[0]).dtype)) return {""};
  return {as_float(b, dy[0], from)};
}

/// The gradient of max/min goes to the operand that was picked; on ties
/// the first operand is picked.
GradFn pick_grad(const std::string& second_wins) {
  return binary_grad([second_wins](GraphBuilder& b, const std::string& a, const std::string& c,
                                   const std::string&, const std::string& dy) {
    std::string c_picked = b.op(second_wins, {c, a});
    std::string zero = zero_like(b, dy);
    return std::pair{b.op("where", {c_picked, zero, dy}), b.op("where", {c_picked, dy, zero})};
  });
}

/// d(a^c) = c·a^(c−1) da + a^c·log(a) dc; the log term is taken as 0 where
/// a <= 0, where a^c is not differentiable in c.
std::pair<std::string, std::string> pow_rule(GraphBuilder& b, const std::string& a, const std::string& c,
                                             const std::string& y, const std::string& dy) {
  std::string da = b.mul(dy, b.mul(c, b.op("pow", {a, b.sub(c, constant_like(b, c, 1.0))})));
  std::string positive = b.op("greater", {a, zero_like(b, a)});
  std::string safe_log = b.op("where", {positive, b.op("log", {a}), zero_like(b, a)});
  std::string dc = b.mul(dy, b.mul(y, safe_log));
  return {da, dc};
}

/// gelu's tanh approximation: sqrt(2 / pi) and the cubic coefficient.
constexpr double kGeluK = 0.7978845608028654;
constexpr double kGeluC = 0.044715;

}  // namespace

void register_elementwise_ops(OpRegistry& r) {
  using S = const std::string&;
  using G = GraphBuilder&;
  r.add(with_grad(binary("add", [](SExpr a, SExpr b) { return a + b; }, "a + b"),
                  binary_grad([](G, S, S, S, S dy) { return std::pair{dy, dy}; })));
  r.add(with_grad(binary("sub", [](SExpr a, SExpr b) { return a - b; }, "a - b"),
                  binary_grad([](G b, S, S, S, S dy) { return std::pair{dy, b.neg(dy)}; })));
  r.add(with_grad(binary("mul", [](SExpr a, SExpr b) { return a * b; }, "a * b"),
                  binary_grad([](G b, S a, S c, S, S dy) { return std::pair{b.mul(dy, c), b.mul(dy, a)}; })));
  r.add(with_grad(binary("div", [](SExpr a, SExpr b) { return a / b; }, "a / b"),
                  binary_grad([](G b, S, S c, S y, S dy) {
                    std::string da = b.div(dy, c);
                    return std::pair{da, b.neg(b.mul(da, y))};  // d(a/c)/dc = -(a/c)/c
                  })));
  r.add(with_grad(binary("pow", [](SExpr a, SExpr b) { return pow(a, b); },
                         "a ** b; the gradient to b is taken as 0 where a <= 0"),
                  binary_grad(pow_rule)));
  r.add(with_grad(binary("maximum", [](SExpr a, SExpr b) { return max(a, b); },
                         "max(a, b); NaN propagates; on ties the gradient goes to a"),
                  pick_grad("greater")));
  r.add(with_grad(binary("minimum", [](SExpr a, SExpr b) { return min(a, b); },
                         "min(a, b); NaN propagates; on ties the gradient goes to a"),
                  pick_grad("less")));

  r.add(with_grad(unary("neg", [](SExpr x) { return -x; }, "-x"),
                  unary_grad([](G b, S, S, S dy) { return b.neg(dy); })));
  r.add(with_grad(unary("exp", [](SExpr x) { return exp(x); }, "e^x"),
                  unary_grad([](G b, S, S y, S dy) { return b.mul(dy, y); })));
  r.add(with_grad(unary("log", [](SExpr x) { return log(x); }, "natural logarithm"),
                  unary_grad([](G b, S x, S, S dy) { return b.div(dy, x); })));
  r.add(with_grad(unary("sqrt", [](SExpr x) { return sqrt(x); }, "square root"),
                  unary_grad([](G b, S, S y, S dy) { return b.div(scale(b, dy, 0.5), y); })));
  // d(x^-1/2) = -x^-3/2 / 2 = -y^3 / 2.
  r.add(with_grad(unary("rsqrt", [](SExpr x) { return rsqrt(x); }, "1 / sqrt(x)"),
                  unary_grad([](G b, S, S y, S dy) { return b.mul(scale(b, dy, -0.5), b.mul(y, b.mul(y, y))); })));
  r.add(with_grad(unary("abs", [](SExpr x) { return abs(x); }, "|x|; abs'(0) = 0"),
                  unary_grad([](G b, S x, S, S dy) { return b.mul(dy, b.op("sign", {x})); })));
  r.add(unary("sign", [](SExpr x) { return sign(x); }, "-1, 0 or 1; not differentiable (no gradient)"));
  r.add(with_grad(unary("square", [](SExpr x) { return x * x; }, "x * x"),
                  unary_grad([](G b, S x, S, S dy) { return b.mul(scale(b, dy, 2.0), x); })));
  r.add(with_grad(unary("relu", [](SExpr x) { return max(x, 0.0); }, "max(x, 0); relu'(0) = 0"),
                  unary_grad([](G b, S x, S, S dy) {
                    return b.op("where", {b.op("greater", {x, zero_like(b, x)}), dy, zero_like(b, dy)});
                  })));
  r.add(with_grad(unary("sigmoid", [](SExpr x) { return 1.0 / (1.0 + exp(-x)); }, "1 / (1 + e^-x)"),
                  unary_grad([](G b, S, S y, S dy) {
                    return b.mul(dy, b.mul(y, b.sub(constant_like(b, y, 1.0), y)));
                  })));
  r.add(with_grad(unary("tanh", [](SExpr x) { return tanh(x); }, "hyperbolic tangent"),
                  unary_grad([](G b, S, S y, S dy) {
                    return b.mul(dy, b.sub(constant_like(b, y, 1.0), b.mul(y, y)));
                  })));
  // softplus(x) = max(x, 0) + log1p(e^-|x|): exact and overflow-free for large |x|.
  r.add(with_grad(unary("softplus", [](SExpr x) { return max(x, 0.0) + log1p(exp(-abs(x))); },
                        "log(1 + e^x), stable"),
                  unary_grad([](G b, S x, S, S dy) { return b.mul(dy, b.op("sigmoid", {x})); })));

  // The four below follow PyTorch's definitions (torch.nn.functional).
  // leaky_relu: x > 0 ? x : alpha*x; the gradient at 0 is alpha, as PyTorch's.
  OpDef leaky = with_grad(
      unary("leaky_relu", nullptr, "x > 0 ? x : alpha * x (attr alpha, default 0.01); leaky_relu'(0) = alpha"),
      [](G b, const Node& n, const std::vector<std::string>& dy) -> Grads {
        const std::string& x = n.inputs[0];
        double alpha = n.attr_float("alpha", 0.01);
        return {b.op("where", {b.op("greater", {x, zero_like(b, x)}), dy[0], scale(b, dy[0], alpha)})};
      });
  leaky.attrs = {{"alpha", AttrKind::f, false}};
  leaky.expr = [](Args x, const Node& n) { return select(greater(x[0], 0.0), x[0], n.attr_float("alpha", 0.01) * x[0]); };
  r.add(leaky);
  // elu: x > 0 ? x : alpha*(e^x - 1). e^x - 1 is written tanh(x/2) * (e^x + 1),
  // which keeps its relative precision near 0 (where e^x - 1 cancels) without an
  // expm1 primitive; min(x, 0) keeps the unpicked branch finite. The gradient at
  // 0 is alpha, as PyTorch's; below 0 it is dy * (y + alpha) = dy * alpha * e^x.
  OpDef elu = with_grad(
      unary("elu", nullptr, "x > 0 ? x : alpha * (e^x - 1) (attr alpha, default 1); elu'(0) = alpha"),
      [](G b, const Node& n, const std::vector<std::string>& dy) -> Grads {
        const std::string &x = n.inputs[0], &y = n.outputs[0];
        double alpha = n.attr_float("alpha", 1.0);
        std::string negative_slope = b.mul(dy[0], b.add(y, constant_like(b, y, alpha)));
        return {b.op("where", {b.op("greater", {x, zero_like(b, x)}), dy[0], negative_slope})};
      });
  elu.attrs = {{"alpha", AttrKind::f, false}};
  elu.expr = [](Args x, const Node& n) {
    SExpr neg = min(x[0], 0.0);
    return select(greater(x[0], 0.0), x[0], n.attr_float("alpha", 1.0) * (tanh(neg * 0.5) * (exp(neg) + 1.0)));
  };
  r.add(elu);
  // gelu, PyTorch's approximate='tanh': 0.5 x (1 + tanh(k (x + 0.044715 x^3))), k = sqrt(2/pi).
  // d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 * 0.044715 x^2).
  r.add(with_grad(unary("gelu",
                        [](SExpr x) { return 0.5 * x * (1.0 + tanh(kGeluK * (x + kGeluC * x * x * x))); },
                        "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), PyTorch's approximate='tanh'"),
                  unary_grad([](G b, S x, S, S dy) {
                    std::string x2 = b.mul(x, x);
                    std::string inner = scale(b, b.add(x, scale(b, b.mul(x2, x), kGeluC)), kGeluK);
                    std::string t = b.op("tanh", {inner});
                    std::string one = constant_like(b, x, 1.0);
                    std::string left = scale(b, b.add(one, t), 0.5);
                    std::string dinner = scale(b, b.add(one, scale(b, x2, 3 * kGeluC)), kGeluK);
                    std::string right = b.mul(scale(b, x, 0.5), b.mul(b.sub(one, b.mul(t, t)), dinner));
                    return b.mul(dy, b.add(left, right));
                  })));
  // log_sigmoid(x) = -softplus(-x) = min(x, 0) - log1p(e^-|x|): stable for large |x|.
  r.add(with_grad(unary("log_sigmoid", [](SExpr x) { return min(x, 0.0) - log1p(exp(-abs(x))); },
                        "log(1 / (1 + e^-x)) = -softplus(-x), stable"),
                  unary_grad([](G b, S x, S, S dy) { return b.mul(dy, b.op("sigmoid", {b.neg(x)})); })));

  r.add(comparison("greater", [](SExpr a, SExpr b) { return greater(a, b); }, "a > b, bool"));
  r.add(comparison("less", [](SExpr a, SExpr b) { return less(a, b); }, "a < b, bool"));
  r.add(comparison("equal", [](SExpr a, SExpr b) { return equal(a, b); }, "a == b, bool"));

  OpDef where = unary("where", nullptr, "cond ? a : b, broadcast; the condition gets no gradient");
  where.min_inputs = where.max_inputs = 3;
  where.infer = infer_where;
  where.expr = [](Args x, const Node&) { return select(x[0], x[1], x[2]); };
  where.grad = grad_where;
  r.add(where);

  OpDef cast = unary("cast", nullptr,
                     "convert to attr dtype; floats truncate toward zero into integers; "
                     "only float-to-float casts pass a gradient");
  cast.attrs = {{"dtype", AttrKind::dtype, true}};
  cast.infer = infer_cast;
  cast.expr = cast_expr;
  cast.grad = grad_cast;
  r.add(cast);
}

}  // namespace dlc
