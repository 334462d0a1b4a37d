#include "compiler/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "compiler/passes/autodiff.h"
#include "compiler/passes/bind_batch.h"
#include "compiler/passes/regularize.h"
#include "ir/error.h"
#include "ir/initializers.h"
#include "ir/verifier.h"
#include "reference/ref_interpreter.h"

namespace dlc {
namespace {

/// Errors above this send an element to further tries with steps 10, 100
/// and 1000 times smaller: a step that crosses a kink (relu at 0, |x| at 0, a
/// max changing hands) ruins the difference quotient, and a smaller step
/// rarely crosses the same one.
constexpr double kRetryAbove = 1e-7;

/// Indices of the elements to check: all, or a seeded sample in order.
std::vector<int64_t> sample_elements(int64_t numel, int64_t max_elements, uint64_t seed) {
  std::vector<int64_t> idx(static_cast<size_t>(numel));
  std::iota(idx.begin(), idx.end(), int64_t{0});
  if (max_elements <= 0 || max_elements >= numel) return idx;
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < max_elements; ++i) {
    std::uniform_int_distribution<int64_t> pick(i, numel - 1);
    std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(pick(rng))]);
  }
  idx.resize(static_cast<size_t>(max_elements));
  std::sort(idx.begin(), idx.end());
  return idx;
}

/// Evaluates the loss (summed over its elements) with one element of one
/// feed moved, restoring it afterwards.
class LossProbe {
 public:
  LossProbe(const Graph& g, std::string loss, std::map<std::string, Tensor> feeds, EvalContext ctx)
      : interp_(g), loss_(std::move(loss)), feeds_(std::move(feeds)), ctx_(ctx) {}

  double at(const std::string& value, int64_t element, double delta) {
    Tensor& t = feeds_.at(value);
    double saved = t[element];
    t[element] = saved + delta;
    Tensor out = interp_.run(feeds_, {loss_}, ctx_).at(loss_);
    t[element] = saved;
    double sum = 0;
    for (double v : out.data) sum += v;
    return sum;
  }

  /// Richardson-extrapolated central difference with step h (see header).
  double derivative(const std::string& value, int64_t element, double h) {
    double d_h = (at(value, element, h) - at(value, element, -h)) / (2 * h);
    double d_half = (at(value, element, h / 2) - at(value, element, -h / 2)) / h;
    return (4 * d_half - d_h) / 3;
  }

 private:
  RefInterpreter interp_;
  std::string loss_;
  std::map<std::string, Tensor> feeds_;
  EvalContext ctx_;
};

/// The values a label may take, read from the loss that consumes it.
struct LabelRange {
  enum Kind { classes, signs, unit } kind = unit;
  int64_t count = 2;  // for `classes`: labels lie in [0, count)
};

/// Follows `label` through casts and reshapes to the node that uses it:
/// a one_hot (depth classes), a class loss over [N,C] scores (C classes),
/// `logistic` (labels -1 and 1), or anything else (0/1 integers, or floats
/// in [0, 1], which suit binary cross entropy and regression alike).
LabelRange label_range(const Graph& g, std::string label) {
  for (int hops = 0; hops < 8; ++hops) {
    const Node* user = nullptr;
    for (const auto& n : g.nodes)
      if (std::find(n.inputs.begin(), n.inputs.end(), label) != n.inputs.end()) {
        user = &n;
        break;
      }
    if (!user) return {};
    if (user->op == "cast" || user->op == "reshape") {
      label = user->outputs[0];
      continue;
    }
    if (user->has_attr("depth")) return {LabelRange::classes, std::max<int64_t>(1, user->attr_int("depth"))};
    // The only loss whose labels are signs; its registry entry says so in words only.
    if (user->op == "logistic") return {LabelRange::signs};
    const TensorType& scores = g.type_of(user->inputs[0]);
    if (user->inputs[0] != label && scores.rank() == g.type_of(label).rank() + 1 && scores.dims.back() > 0)
      return {LabelRange::classes, scores.dims.back()};
    return {};
  }
  return {};
}

Tensor random_input(const Graph& g, const Input& in, std::mt19937_64& rng) {
  Tensor t(in.type);
  if (in.role == proto::LABEL) {
    LabelRange range = label_range(g, in.name);
    std::uniform_int_distribution<int64_t> cls(0, range.count - 1);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (auto& v : t.data) {
      if (range.kind == LabelRange::classes) v = static_cast<double>(cls(rng));
      else if (range.kind == LabelRange::signs) v = cls(rng) == 0 ? -1.0 : 1.0;
      else v = is_integer(in.type.dtype) ? static_cast<double>(cls(rng)) : u(rng);
    }
  } else if (in.role == proto::DATA) {
    std::normal_distribution<double> normal(0.0, 1.0);
    for (auto& v : t.data) v = normal(rng);
  } else {
    // Learning rate and step do not reach the loss before optimizer lowering.
    std::fill(t.data.begin(), t.data.end(), 1.0);
  }
  round_to_dtype(t);
  return t;
}

Tensor random_param(const Parameter& p, uint64_t seed, std::mt19937_64& rng) {
  Tensor t = initialize_parameter(p, seed);
  if (!is_float(p.type.dtype) || t.numel() == 0) return t;
  double sq = 0;
  for (double v : t.data) sq += v * v;
  double rms = std::sqrt(sq / static_cast<double>(t.numel()));
  std::normal_distribution<double> noise(0.0, rms > 0 ? rms / 2 : 0.1);
  for (auto& v : t.data) v += noise(rng);
  return t;
}

}  // namespace

double gradcheck_relative_error(double analytic, double numeric) {
  double scale = std::max(std::fabs(analytic) + std::fabs(numeric), kGradcheckFloor);
  double err = std::fabs(analytic - numeric) / scale;
  return std::isnan(err) ? INFINITY : err;
}

std::vector<GradcheckEntry> compare_gradients(const Graph& g, const std::string& loss,
                                              const std::map<std::string, std::string>& gradients,
                                              const std::map<std::string, Tensor>& feeds, double eps,
                                              const GradcheckOptions& opts) {
  if (!(eps > 0)) throw Error("gradcheck: eps must be positive");
  std::vector<std::string> grad_values;
  for (const auto& [w, grad] : gradients) {
    if (!feeds.count(w)) throw Error("gradcheck: '" + w + "' must be a graph input or parameter given a value");
    grad_values.push_back(grad);
  }
  RefInterpreter interp(g);
  std::map<std::string, Tensor> analytic = interp.run(feeds, grad_values, opts.ctx);
  LossProbe probe(g, loss, feeds, opts.ctx);

  std::vector<GradcheckEntry> entries;
  uint64_t sample_seed = opts.sample_seed;
  for (const auto& [w, grad] : gradients) {
    const Tensor& a = analytic.at(grad);
    GradcheckEntry e;
    e.value = w;
    e.worst_index = -1;
    for (int64_t i : sample_elements(feeds.at(w).numel(), opts.max_elements, sample_seed++)) {
      double numeric = probe.derivative(w, i, eps);
      double err = gradcheck_relative_error(a[i], numeric);
      // A deep network with pooling has many kinks near any point (a max
      // changes hands, a ReLU input crosses 0); in float64 a step of 1e-6
      // still leaves the quotient 10 digits.
      for (double divisor : {10.0, 100.0, 1000.0}) {
        if (err <= kRetryAbove) break;
        double finer = probe.derivative(w, i, eps / divisor);
        double finer_err = gradcheck_relative_error(a[i], finer);
        if (finer_err < err) numeric = finer, err = finer_err;
      }
      ++e.elements_checked;
      if (e.worst_index < 0 || err > e.max_rel_error) {
        e.max_rel_error = err;
        e.worst_index = i;
        e.analytic = a[i];
        e.numeric = numeric;
      }
    }
    entries.push_back(e);
  }
  return entries;
}

std::vector<GradcheckEntry> gradcheck(const Graph& g, const std::string& loss, const std::vector<std::string>& wrt,
                                      const std::map<std::string, Tensor>& feeds, double eps,
                                      const GradcheckOptions& opts) {
  Graph copy = g;
  verify_or_throw(copy);
  std::map<std::string, std::string> grads = append_gradients(copy, loss, wrt);
  verify_or_throw(copy);
  std::vector<GradcheckEntry> by_name = compare_gradients(copy, loss, grads, feeds, eps, opts);
  // compare_gradients walks the map in name order; report in the caller's order.
  std::vector<GradcheckEntry> entries;
  for (const auto& w : wrt)
    for (const auto& e : by_name)
      if (e.value == w) entries.push_back(e);
  return entries;
}

std::vector<GradcheckEntry> gradcheck_model(Model m, uint64_t seed, int64_t batch, int64_t max_elements,
                                            double eps) {
  if (!m.has_training()) throw Error(m.source + ": gradcheck needs a training section naming the loss");
  if (batch < 1) throw Error("gradcheck: batch must be at least 1");
  // The same passes, in the same order, as `dlc compile` before autodiff.
  verify_or_throw(m);
  BindBatchPass(batch).run(m);
  RegularizePass().run(m);
  verify_or_throw(m);

  std::mt19937_64 rng(seed);
  std::map<std::string, Tensor> feeds;
  for (const auto& in : m.graph.inputs) feeds[in.name] = random_input(m.graph, in, rng);
  std::vector<std::string> wrt;
  for (const auto& p : m.graph.params) {
    feeds[p.name] = random_param(p, seed, rng);
    if (!p.frozen && is_float(p.type.dtype)) wrt.push_back(p.name);
  }
  if (wrt.empty()) throw Error(m.source + ": gradcheck: the model has no trainable parameters");

  GradcheckOptions opts;
  opts.max_elements = max_elements;
  opts.sample_seed = seed;
  opts.ctx.training = true;
  opts.ctx.seed = seed;
  opts.ctx.step = 1;
  return gradcheck(m.graph, m.training.loss(), wrt, feeds, eps, opts);
}

}  // namespace dlc
