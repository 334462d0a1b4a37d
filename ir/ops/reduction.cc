// Reductions over a set of axes: reduce_sum, reduce_mean, reduce_max, reduce_min,
// and the composite logsumexp.
//
// Attributes: axes (ints; absent or empty = every axis, negative counts from
// the end) and keepdims (bool, default false: reduced axes are dropped).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ir/builder.h"
#include "ir/grad_util.h"
#include "ir/op_registry.h"

namespace dlc {
namespace {

using Reduce = ReduceKind;

std::vector<int64_t> axes_of(const Node& n, int64_t rank) {
  std::string ignored;  // the shape rule has reported bad axes already
  return reduction_axes(n.attr_ints("axes"), rank, &ignored);
}

/// Dims of the reduction's result: reduced axes dropped, or kept as 1.
std::vector<int64_t> reduced_dims(const std::vector<int64_t>& dims, const std::vector<int64_t>& axes,
                                  bool keepdims) {
  std::vector<int64_t> r;
  for (int64_t i = 0; i < static_cast<int64_t>(dims.size()); ++i) {
    bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced) r.push_back(dims[i]);
    else if (keepdims) r.push_back(1);
  }
  return r;
}

ShapeFn infer_reduce(Reduce kind) {
  return [kind](const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
    const TensorType& x = in[0];
    if (x.dtype == DType::boolean || (kind == Reduce::mean && !is_float(x.dtype)))
      return std::string(kind == Reduce::mean ? "needs a float input, got " : "needs a numeric input, got ") +
             x.str();
    std::string err;
    std::vector<int64_t> axes = reduction_axes(n.attr_ints("axes"), x.rank(), &err);
    if (!err.empty()) return err + " (input " + x.str() + ")";
    out->push_back({x.dtype, reduced_dims(x.dims, axes, n.attr_bool("keepdims"))});
    return std::string();
  };
}

/// For each element of a `dims`-shaped input, the offset of the result
/// element it reduces into.
std::vector<int64_t> result_offsets(const std::vector<int64_t>& dims, const std::vector<int64_t>& axes) {
  // Output strides over the kept-dims shape; reduced axes get stride 0.
  std::vector<int64_t> ostrides = strides_of(reduced_dims(dims, axes, true));
  for (int64_t a : axes) ostrides[a] = 0;
  int64_t numel = 1;
  for (int64_t d : dims) numel *= d;
  std::vector<int64_t> offsets(static_cast<size_t>(numel));
  for (int64_t e = 0; e < numel; ++e) {
    int64_t rest = e, o = 0;
    for (int64_t i = static_cast<int64_t>(dims.size()) - 1; i >= 0; --i) {
      o += (rest % dims[i]) * ostrides[i];
      rest /= dims[i];
    }
    offsets[static_cast<size_t>(e)] = o;
  }
  return offsets;
}

RefKernel eval_reduce(Reduce kind) {
  return [kind](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                const EvalContext&) {
    const Tensor& x = *in[0];
    Tensor& y = out[0];
    std::vector<int64_t> offsets = result_offsets(x.type.dims, axes_of(n, x.type.rank()));
    double init = kind == Reduce::max   ? -std::numeric_limits<double>::infinity()
                  : kind == Reduce::min ? std::numeric_limits<double>::infinity()
                                        : 0.0;
    for (double& v : y.data) v = init;
    for (int64_t e = 0; e < x.numel(); ++e) {
      int64_t o = offsets[static_cast<size_t>(e)];
      double v = x[e];
      bool extremum = kind == Reduce::max || kind == Reduce::min;
      bool better = kind == Reduce::max ? v > y[o] : v < y[o];
      if (!extremum) y[o] += v;
      else if (std::isnan(v) || better) y[o] = std::isnan(y[o]) ? y[o] : v;  // NaN sticks
    }
    if (kind == Reduce::mean) {
      double count = static_cast<double>(x.numel()) / static_cast<double>(y.numel());
      for (double& v : y.data) v /= count;
    }
    round_to_dtype(y);
  };
}

std::vector<std::string> grad_sum(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  const auto& dims = b.type(n.inputs[0]).dims;
  std::vector<int64_t> axes = axes_of(n, static_cast<int64_t>(dims.size()));
  return {expand_from_reduction(b, dy[0], dims, axes, n.attr_bool("keepdims"))};
}

std::vector<std::string> grad_mean(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  const auto& dims = b.type(n.inputs[0]).dims;
  std::vector<int64_t> axes = axes_of(n, static_cast<int64_t>(dims.size()));
  std::string g = expand_from_reduction(b, dy[0], dims, axes, n.attr_bool("keepdims"));
  return {b.div(g, element_count(b, dims, axes, b.type(g).dtype))};
}

/// The gradient goes to the extremal elements, split evenly between ties.
std::vector<std::string> grad_extremum(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  const std::string& x = n.inputs[0];
  const auto dims = b.type(x).dims;
  DType dt = b.type(dy[0]).dtype;
  std::vector<int64_t> axes = axes_of(n, static_cast<int64_t>(dims.size()));
  bool keep = n.attr_bool("keepdims");
  std::string y = expand_from_reduction(b, n.outputs[0], dims, axes, keep);
  std::string mask = b.cast(b.op("equal", {x, y}), dt);
  std::string ties = expand_from_reduction(b, b.reduce_sum(mask, axes, true), dims, axes, true);
  std::string g = expand_from_reduction(b, dy[0], dims, axes, keep);
  return {b.div(b.mul(mask, g), ties)};
}

/// log(sum(exp(x))) over the axes, computed directly (max first) as the
/// oracle of its expansion.
void eval_logsumexp(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                    const EvalContext&) {
  const Tensor& x = *in[0];
  Tensor& y = out[0];
  std::vector<int64_t> offsets = result_offsets(x.type.dims, axes_of(n, x.type.rank()));
  std::vector<double> mx(static_cast<size_t>(y.numel()), -std::numeric_limits<double>::infinity());
  for (int64_t e = 0; e < x.numel(); ++e) mx[offsets[e]] = std::max(mx[offsets[e]], x[e]);
  std::vector<double> sum(static_cast<size_t>(y.numel()), 0.0);
  for (int64_t e = 0; e < x.numel(); ++e) sum[offsets[e]] += std::exp(x[e] - mx[offsets[e]]);
  for (int64_t o = 0; o < y.numel(); ++o) y[o] = mx[o] + std::log(sum[o]);
}

/// max + log(sum(exp(x - max))), the max a stop_gradient: the gradient is
/// softmax(x) times the incoming one, from the primitives' rules.
std::vector<std::string> expand_logsumexp(GraphBuilder& b, const Node& n) {
  const std::string& x = n.inputs[0];
  StableExp e = stable_exp(b, x, axes_of(n, b.type(x).rank()));
  std::string r = b.add(e.max, b.op("log", {e.sum}));
  const std::vector<int64_t>& want = b.type(n.outputs[0]).dims;
  return {b.type(r).dims == want ? r : b.reshape(r, want)};
}

OpDef logsumexp_op() {
  OpDef d;
  d.name = "logsumexp";
  d.attrs = {{"axes", AttrKind::ints}, {"keepdims", AttrKind::b}};
  d.infer = infer_reduce(Reduce::mean);  // float only, the reductions' axes and keepdims
  d.eval = eval_logsumexp;
  d.lowering = Lowering::expansion;
  d.expand = expand_logsumexp;
  d.doc = "log(sum(exp(x))) over axes (all when absent or empty), stable; keepdims keeps them as 1";
  return d;
}

OpDef reduce_op(const std::string& name, Reduce kind, GradFn grad, const std::string& doc) {
  OpDef d;
  d.name = name;
  d.attrs = {{"axes", AttrKind::ints}, {"keepdims", AttrKind::b}};
  d.infer = infer_reduce(kind);
  d.eval = eval_reduce(kind);
  d.grad = std::move(grad);
  d.lowering = Lowering::reduction;
  d.reduction = kind;
  d.doc = doc;
  return d;
}

}  // namespace

void register_reduction_ops(OpRegistry& r) {
  r.add(reduce_op("reduce_sum", Reduce::sum, grad_sum, "sum over axes (all when absent or empty); keepdims keeps them as 1"));
  r.add(reduce_op("reduce_mean", Reduce::mean, grad_mean, "mean over axes (all when absent or empty); float only"));
  r.add(reduce_op("reduce_max", Reduce::max, grad_extremum,
                  "max over axes; NaN propagates; the gradient is split evenly between tied maxima"));
  r.add(reduce_op("reduce_min", Reduce::min, grad_extremum,
                  "min over axes; NaN propagates; the gradient is split evenly between tied minima"));
  r.add(logsumexp_op());
}

}  // namespace dlc
