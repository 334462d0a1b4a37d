// Losses: each returns a scalar, the mean over the batch (over every element
// for the element-wise losses), computed in numerically stable forms.
//
// Class labels are integer tensors [N]; a label outside its range is an
// error at run time naming the node and the label.
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

/// (softmax(x) − one_hot(labels)) · dy / N.
std::vector<std::string> grad_softmax_ce(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  const std::string &x = n.inputs[0], &labels = n.inputs[1];
  const TensorType& t = b.type(x);
  std::string p = b.op("softmax", {x});
  std::string hot = b.op("one_hot", {labels}, {{"depth", attr_i(t.dims[1])}, {"dtype", attr_dtype(t.dtype)}});
  std::string per_row = b.div(dy[0], element_count(b, t.dims, {0}, t.dtype));
  return {b.mul(b.sub(p, hot), per_row), ""};
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

/// Each wrong class j with a positive margin gets +1, the true class gets
/// minus their count; a margin of exactly 0 counts as inactive.
std::vector<std::string> grad_hinge(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  const std::string &s = n.inputs[0], &labels = n.inputs[1];
  const TensorType& t = b.type(s);
  Attrs rows{{"axes", attr_ints({1})}, {"keepdims", attr_b(true)}};
  std::string hot = b.op("one_hot", {labels}, {{"depth", attr_i(t.dims[1])}, {"dtype", attr_dtype(t.dtype)}});
  std::string true_score = b.op("reduce_sum", {b.mul(s, hot)}, rows);
  std::string margin = b.add(b.sub(s, true_score), b.scalar(1.0, t.dtype));
  std::string active = b.cast(b.op("greater", {margin, b.scalar(0.0, t.dtype)}), t.dtype);
  std::string wrong = b.mul(active, b.sub(b.scalar(1.0, t.dtype), hot));
  std::string count = b.op("reduce_sum", {wrong}, rows);
  std::string per_row = b.div(dy[0], element_count(b, t.dims, {0}, t.dtype));
  return {b.mul(b.sub(wrong, b.mul(hot, count)), per_row), ""};
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

/// dy divided by the element count of the first operand.
std::string per_element(GraphBuilder& b, const Node& n, const std::string& dy) {
  const TensorType& t = b.type(n.inputs[0]);
  return b.div(dy, element_count(b, t.dims, {}, t.dtype));
}

/// (sigmoid(x) − t) · dy / numel; the targets get none.
std::vector<std::string> grad_bce(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  const std::string& x = n.inputs[0];
  std::string t = as_float(b, n.inputs[1], b.type(x).dtype);
  return {b.mul(b.sub(b.op("sigmoid", {x}), t), per_element(b, n, dy[0])), ""};
}

std::vector<std::string> grad_mse(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  std::string diff = b.sub(n.inputs[0], n.inputs[1]);
  std::string g = b.mul(diff, scale(b, per_element(b, n, dy[0]), 2.0));
  return {g, b.neg(g)};
}

/// sign(p − t) · dy / numel, so the kink at p = t gets 0.
std::vector<std::string> grad_l1(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  std::string g = b.mul(b.op("sign", {b.sub(n.inputs[0], n.inputs[1])}), per_element(b, n, dy[0]));
  return {g, b.neg(g)};
}

/// −y · sigmoid(−y·f) · dy / numel; the labels get none.
std::vector<std::string> grad_logistic(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  const std::string& f = n.inputs[0];
  std::string y = as_float(b, n.inputs[1], b.type(f).dtype);
  std::string s = b.op("sigmoid", {b.neg(b.mul(y, f))});
  return {b.neg(b.mul(b.mul(y, s), per_element(b, n, dy[0]))), ""};
}

OpDef loss_op(const std::string& name, ShapeFn infer, RefKernel eval, GradFn grad, const std::string& doc) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 2;
  d.infer = std::move(infer);
  d.eval = std::move(eval);
  d.grad = std::move(grad);
  d.fusion = FusionClass::opaque;
  d.doc = doc;
  return d;
}

}  // namespace

void register_loss_ops(OpRegistry& r) {
  r.add(loss_op("softmax_cross_entropy", infer_class_loss, eval_softmax_ce, grad_softmax_ce,
                "mean over rows of logsumexp(logits) - logits[label]; logits f[N,C], labels int[N]"));
  r.add(loss_op("multiclass_hinge", infer_class_loss, eval_hinge, grad_hinge,
                "mean over rows of sum_{j != label} max(0, s_j - s_label + 1); scores f[N,C], labels int[N]"));
  r.add(loss_op("sigmoid_binary_cross_entropy", infer_pair_loss(true), mean_of(bce_term), grad_bce,
                "mean of max(x,0) - x*t + log1p(e^-|x|); targets in [0,1] (int or float), same shape"));
  r.add(loss_op("mse", infer_pair_loss(false),
                mean_of([](const Node&, double p, double t, int64_t) { return (p - t) * (p - t); }), grad_mse,
                "mean of (prediction - target)^2, same shape"));
  r.add(loss_op("l1", infer_pair_loss(false),
                mean_of([](const Node&, double p, double t, int64_t) { return std::fabs(p - t); }), grad_l1,
                "mean of |prediction - target|, same shape; gradient 0 where they are equal"));
  r.add(loss_op("logistic", infer_pair_loss(true), mean_of(logistic_term), grad_logistic,
                "mean of log(1 + e^(-y*f)), stable; labels y in {-1, 1} (int or float), same shape"));
}

}  // namespace dlc
