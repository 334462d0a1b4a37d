// Losses: each returns a scalar, the mean over the batch (over every element
// for the element-wise losses), computed in numerically stable forms.
//
// Every loss is a composite: its expansion into primitives (element-wise
// ops, reductions, one_hot) is what compiles and what autodiff
// differentiates, so a loss and its gradient fuse like any other ops. Its
// reference kernel computes it directly in float64 and checks the labels
// (a label outside its range is an error naming the node and the label):
// the oracle the expansion is tested against.
#include <cmath>
#include <limits>

#include "ir/builder.h"
#include "ir/error.h"
#include "ir/grad_util.h"
#include "ir/op_registry.h"

namespace dlc {
namespace {

/// log(1 + e^z) without overflow for large |z|.
double softplus(double z) { return std::max(z, 0.0) + std::log1p(std::exp(-std::fabs(z))); }

std::string fmt_label(double v) {
  if (v == std::trunc(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  return std::to_string(v);
}

[[noreturn]] void bad_label(const Node& n, const std::string& what) {
  throw Error("node '" + n.name + "' (" + n.op + "): " + what);
}

// --- class losses over [N,C] scores and [N] integer labels ---------------------------

std::string infer_class_loss(const Node&, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  const TensorType &s = in[0], &y = in[1];
  std::string shapes = s.str() + " with labels " + y.str();
  if (!is_float(s.dtype) || s.rank() != 2) return "scores must be a float [N,C] tensor: " + shapes;
  if (!is_integer(y.dtype) || y.rank() != 1) return "labels must be an integer [N] tensor: " + shapes;
  if (s.dims[0] != y.dims[0]) return "scores and labels disagree on N: " + shapes;
  out->push_back({s.dtype, {}});
  return "";
}

/// Label of row `r`, checked against [0, classes).
int64_t class_label(const Node& n, const Tensor& labels, int64_t r, int64_t classes) {
  double v = labels[r];
  if (!(v >= 0 && v < static_cast<double>(classes)))
    bad_label(n, "label " + fmt_label(v) + " in row " + std::to_string(r) + " is outside [0, " +
                     std::to_string(classes) + ")");
  return static_cast<int64_t>(v);
}

/// Per row: logsumexp(x) − x[label], with the row max subtracted first.
void eval_softmax_ce(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                     const EvalContext&) {
  const Tensor &x = *in[0], &labels = *in[1];
  int64_t rows = x.type.dims[0], c = x.type.dims[1];
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = &x.data[static_cast<size_t>(r * c)];
    int64_t label = class_label(n, labels, r, c);
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < c; ++j) mx = std::max(mx, row[j]);
    double sum = 0;
    for (int64_t j = 0; j < c; ++j) sum += std::exp(row[j] - mx);
    total += mx + std::log(sum) - row[label];
  }
  out[0][0] = total / static_cast<double>(rows);
}

/// 1 per row whose label is in range, NaN (0/0) per row whose label is not:
/// the compiled loss and its gradient become NaN instead of quietly
/// treating the row as having no true class. [N,1], from one_hot's row sum.
std::string label_in_range(GraphBuilder& b, const std::string& hot) {
  std::string found = b.reduce_sum(hot, {1}, true);
  return b.div(found, found);
}

/// Per row: logsumexp(x) - sum(x * one_hot(label)); then the mean over rows.
std::vector<std::string> expand_softmax_ce(GraphBuilder& b, const Node& n) {
  const std::string &x = n.inputs[0], &labels = n.inputs[1];
  const TensorType& t = b.type(x);
  StableExp e = stable_exp(b, x, {1});
  std::string logsumexp = b.add(e.max, b.op("log", {e.sum}));
  std::string hot = b.op("one_hot", {labels}, {{"depth", attr_i(t.dims[1])}, {"dtype", attr_dtype(t.dtype)}});
  std::string picked = b.reduce_sum(b.mul(x, hot), {1}, true);
  std::string per_row = b.mul(b.sub(logsumexp, picked), label_in_range(b, hot));
  return {b.op("reduce_mean", {per_row})};
}

void eval_hinge(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                const EvalContext&) {
  const Tensor &s = *in[0], &labels = *in[1];
  int64_t rows = s.type.dims[0], c = s.type.dims[1];
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = &s.data[static_cast<size_t>(r * c)];
    int64_t label = class_label(n, labels, r, c);
    for (int64_t j = 0; j < c; ++j)
      if (j != label) total += std::max(0.0, row[j] - row[label] + 1.0);
  }
  out[0][0] = total / static_cast<double>(rows);
}

/// Sum over wrong classes of relu(s_j - s_label + 1), mean over rows; relu'(0)
/// = 0, so a margin of exactly 0 counts as inactive.
std::vector<std::string> expand_hinge(GraphBuilder& b, const Node& n) {
  const std::string &s = n.inputs[0], &labels = n.inputs[1];
  const TensorType& t = b.type(s);
  std::string hot = b.op("one_hot", {labels}, {{"depth", attr_i(t.dims[1])}, {"dtype", attr_dtype(t.dtype)}});
  std::string true_score = b.reduce_sum(b.mul(s, hot), {1}, true);
  std::string margin = b.add(b.sub(s, true_score), b.scalar(1.0, t.dtype));
  std::string wrong = b.mul(b.sub(b.scalar(1.0, t.dtype), hot), label_in_range(b, hot));
  std::string total = b.op("reduce_sum", {b.mul(b.op("relu", {margin}), wrong)});
  return {b.div(total, element_count(b, t.dims, {0}, t.dtype))};
}

// --- element-wise losses: two same-shape operands, mean over every element ----------

/// `targets_any_numeric`: the second operand may be integer (class targets)
/// rather than of the first operand's float dtype.
ShapeFn infer_pair_loss(bool targets_any_numeric) {
  return [targets_any_numeric](const Node&, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
    const TensorType &a = in[0], &t = in[1];
    std::string shapes = a.str() + " vs " + t.str();
    if (!is_float(a.dtype)) return "needs a float first operand: " + shapes;
    bool dtype_ok = targets_any_numeric ? (is_float(t.dtype) || is_integer(t.dtype)) : t.dtype == a.dtype;
    if (!dtype_ok) return "operand dtypes do not fit: " + shapes;
    if (a.dims != t.dims) return "operands must have the same shape: " + shapes;
    out->push_back({a.dtype, {}});
    return std::string();
  };
}

/// A reference kernel averaging `term(a, t, index)` over every element.
template <typename Term>
RefKernel mean_of(Term term) {
  return [term](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out, const EvalContext&) {
    const Tensor &a = *in[0], &t = *in[1];
    double total = 0;
    for (int64_t e = 0; e < a.numel(); ++e) total += term(n, a[e], t[e], e);
    out[0][0] = total / static_cast<double>(a.numel());
  };
}

double bce_term(const Node& n, double x, double t, int64_t e) {
  if (!(t >= 0.0 && t <= 1.0))
    bad_label(n, "target " + fmt_label(t) + " at element " + std::to_string(e) + " is outside [0, 1]");
  return std::max(x, 0.0) - x * t + std::log1p(std::exp(-std::fabs(x)));
}

double logistic_term(const Node& n, double f, double y, int64_t e) {
  if (y != 1.0 && y != -1.0)
    bad_label(n, "label " + fmt_label(y) + " at element " + std::to_string(e) + " is not -1 or 1");
  return softplus(-y * f);
}

/// The mean over every element of `term`.
std::vector<std::string> mean_of_all(GraphBuilder& b, const std::string& term) { return {b.op("reduce_mean", {term})}; }

/// softplus(-x) + (1 - t)·x, which is max(x,0) - x·t + log1p(e^-|x|)
/// written so that its gradient, sigmoid(x) - t, is smooth at x = 0.
std::vector<std::string> expand_bce(GraphBuilder& b, const Node& n) {
  const std::string& x = n.inputs[0];
  DType dt = b.type(x).dtype;
  std::string t = as_float(b, n.inputs[1], dt);
  std::string term = b.add(b.op("softplus", {b.neg(x)}), b.mul(b.sub(b.scalar(1.0, dt), t), x));
  return mean_of_all(b, term);
}

std::vector<std::string> expand_mse(GraphBuilder& b, const Node& n) {
  return mean_of_all(b, b.op("square", {b.sub(n.inputs[0], n.inputs[1])}));
}

/// |p - t|; abs'(0) = 0, so the gradient is 0 where they are equal.
std::vector<std::string> expand_l1(GraphBuilder& b, const Node& n) {
  return mean_of_all(b, b.op("abs", {b.sub(n.inputs[0], n.inputs[1])}));
}

/// softplus(-y·f).
std::vector<std::string> expand_logistic(GraphBuilder& b, const Node& n) {
  const std::string& f = n.inputs[0];
  std::string y = as_float(b, n.inputs[1], b.type(f).dtype);
  return mean_of_all(b, b.op("softplus", {b.neg(b.mul(y, f))}));
}

OpDef loss_op(const std::string& name, ShapeFn infer, RefKernel eval, ExpandFn expand, const std::string& doc) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 2;
  d.infer = std::move(infer);
  d.eval = std::move(eval);
  d.lowering = Lowering::expansion;
  d.expand = std::move(expand);
  d.doc = doc;
  return d;
}

}  // namespace

void register_loss_ops(OpRegistry& r) {
  r.add(loss_op("softmax_cross_entropy", infer_class_loss, eval_softmax_ce, expand_softmax_ce,
                "mean over rows of logsumexp(logits) - logits[label]; logits f[N,C], labels int[N]"));
  r.add(loss_op("multiclass_hinge", infer_class_loss, eval_hinge, expand_hinge,
                "mean over rows of sum_{j != label} max(0, s_j - s_label + 1); scores f[N,C], labels int[N]"));
  r.add(loss_op("sigmoid_binary_cross_entropy", infer_pair_loss(true), mean_of(bce_term), expand_bce,
                "mean of max(x,0) - x*t + log1p(e^-|x|); targets in [0,1] (int or float), same shape"));
  r.add(loss_op("mse", infer_pair_loss(false),
                mean_of([](const Node&, double p, double t, int64_t) { return (p - t) * (p - t); }), expand_mse,
                "mean of (prediction - target)^2, same shape"));
  r.add(loss_op("l1", infer_pair_loss(false),
                mean_of([](const Node&, double p, double t, int64_t) { return std::fabs(p - t); }), expand_l1,
                "mean of |prediction - target|, same shape; gradient 0 where they are equal"));
  r.add(loss_op("logistic", infer_pair_loss(true), mean_of(logistic_term), expand_logistic,
                "mean of log(1 + e^(-y*f)), stable; labels y in {-1, 1} (int or float), same shape"));
}

}  // namespace dlc
