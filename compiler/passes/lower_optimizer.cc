// The update rules, their defaults and PyTorch equivalents are the table in
// compiler/passes/optimizers.cc (docs/optimizers.md shows them); every state
// starts at zero, and right-hand sides use the new state where it appears on
// the left. One implementation note, Adam's:
//   w -= lr·m̂ / (sqrt(v̂) + ε) with m̂ = m / (1-β1^t), v̂ = v / (1-β2^t) is
//   computed as w -= α·m / (sqrt(v) + ε̂) with the per-step scalars
//   α = lr·sqrt(1-β2^t) / (1-β1^t) and ε̂ = ε·sqrt(1-β2^t) (the same value;
//   one division and one square root per element, not three divisions: the
//   update kernels are bound by them).
#include "compiler/passes/lower_optimizer.h"

#include <algorithm>
#include <map>
#include <optional>

#include "compiler/passes/optimizers.h"
#include "ir/builder.h"
#include "ir/error.h"

namespace dlc {
namespace {

struct Hyper {
  double momentum = 0, beta1 = 0, beta2 = 0, epsilon = 0, rho = 0, weight_decay = 0;
};

/// The values the kind uses (optimizers.h); the others stay 0 and are never read.
Hyper read_hyper(const proto::Optimizer& o, const std::string& source) {
  std::vector<std::string> errors = check_hyper_parameters(o, (source.empty() ? "" : source + ": ") + "training: ");
  if (!errors.empty()) throw Error(errors[0]);
  Hyper h;
  for (const auto& v : resolve_hyper_parameters(o)) {
    if (v.name == "momentum") h.momentum = v.value;
    else if (v.name == "beta1") h.beta1 = v.value;
    else if (v.name == "beta2") h.beta2 = v.value;
    else if (v.name == "epsilon") h.epsilon = v.value;
    else if (v.name == "rho") h.rho = v.value;
    else if (v.name == "weight_decay") h.weight_decay = v.value;
  }
  return h;
}

/// Emits the updates of one model; caches shared scalars so each appears once.
class Lowering {
 public:
  Lowering(Model& m, const Hyper& h) : m_(m), g_(m.graph), b_(m.graph), h_(h) {}

  void add_inputs() {
    lr_ = scalar_input(kLearningRateInput, proto::LEARNING_RATE);
    step_ = scalar_input(kStepInput, proto::STEP);
  }

  void lower(const std::string& kind, const std::string& w, const std::string& grad) {
    dtype_ = g_.type_of(w).dtype;
    kind_ = kind;
    std::string g = grad;
    if (kind != "adamw" && h_.weight_decay != 0) g = b_.add(g, mul(c(h_.weight_decay), w));
    if (kind == "sgd") {
      set(w, sub(w, mul(lr(), g)));
    } else if (kind == "momentum" || kind == "nesterov") {
      std::string v = state(w, "velocity");
      std::string v1 = set(v, b_.add(mul(c(h_.momentum), v), g));
      std::string dir = kind == "momentum" ? v1 : b_.add(g, mul(c(h_.momentum), v1));
      set(w, sub(w, mul(lr(), dir)));
    } else if (kind == "adagrad") {
      std::string G = state(w, "sum_sq");
      std::string G1 = set(G, b_.add(G, sq(g)));
      set(w, sub(w, mul(lr(), div(g, b_.add(sqrt(G1), c(h_.epsilon))))));
    } else if (kind == "rmsprop") {
      std::string s = state(w, "mean_sq");
      std::string s1 = set(s, ema(s, sq(g), h_.rho));
      set(w, sub(w, mul(lr(), div(g, b_.add(sqrt(s1), c(h_.epsilon))))));
    } else if (kind == "adadelta") {
      std::string eg = state(w, "mean_sq_grad");
      std::string edx = state(w, "mean_sq_delta");
      std::string eg1 = set(eg, ema(eg, sq(g), h_.rho));
      std::string delta = mul(div(sqrt(b_.add(edx, c(h_.epsilon))), sqrt(b_.add(eg1, c(h_.epsilon)))), g);
      set(edx, ema(edx, sq(delta), h_.rho));
      set(w, sub(w, mul(lr(), delta)));
    } else if (kind == "adam" || kind == "adamw") {
      std::string m = state(w, "m");
      std::string v = state(w, "v");
      std::string m1 = set(m, ema(m, g, h_.beta1));
      std::string v1 = set(v, ema(v, sq(g), h_.beta2));
      const auto& [alpha, eps_hat] = adam_scalars();
      std::string w1 = sub(w, div(mul(alpha, m1), b_.add(sqrt(v1), eps_hat)));
      if (kind == "adamw" && h_.weight_decay != 0) w1 = sub(w1, mul(mul(lr(), c(h_.weight_decay)), w));
      set(w, w1);
    } else {
      throw Error(m_.source + ": unknown optimizer kind '" + kind + "'");
    }
  }

 private:
  std::string mul(const std::string& a, const std::string& b) { return b_.mul(a, b); }
  std::string sub(const std::string& a, const std::string& b) { return b_.sub(a, b); }
  std::string div(const std::string& a, const std::string& b) { return b_.div(a, b); }
  std::string sqrt(const std::string& a) { return b_.op("sqrt", {a}); }
  std::string sq(const std::string& a) { return b_.op("square", {a}); }

  /// decay·s + (1-decay)·x: an exponential moving average step.
  std::string ema(const std::string& s, const std::string& x, double decay) {
    return b_.add(mul(c(decay), s), mul(c(1.0 - decay), x));
  }

  /// A scalar constant of the current parameter's dtype, emitted once.
  std::string c(double v) {
    auto key = std::make_pair(static_cast<int>(dtype_), v);
    auto it = consts_.find(key);
    if (it != consts_.end()) return it->second;
    return consts_[key] = b_.scalar(v, dtype_);
  }

  /// A runtime scalar (`learning_rate`, `step`) in the current dtype.
  std::string as_dtype(const std::string& f32_value) {
    if (dtype_ == DType::f32) return f32_value;
    auto key = std::make_pair(f32_value, static_cast<int>(dtype_));
    auto it = casts_.find(key);
    if (it != casts_.end()) return it->second;
    return casts_[key] = b_.cast(f32_value, dtype_);
  }
  std::string lr() { return as_dtype(lr_); }

  /// 1 - β^t, shared by every parameter.
  std::string bias_correction(double beta) {
    auto key = std::make_pair(static_cast<int>(dtype_), beta);
    auto it = bias_.find(key);
    if (it != bias_.end()) return it->second;
    return bias_[key] = sub(c(1.0), b_.op("pow", {c(beta), as_dtype(step_)}));
  }

  /// Adam's step size lr·sqrt(1-β2^t) / (1-β1^t) and ε·sqrt(1-β2^t), shared by every parameter.
  const std::pair<std::string, std::string>& adam_scalars() {
    auto it = adam_.find(static_cast<int>(dtype_));
    if (it != adam_.end()) return it->second;
    std::string root_bc2 = sqrt(bias_correction(h_.beta2));
    std::string alpha = div(mul(lr(), root_bc2), bias_correction(h_.beta1));
    return adam_[static_cast<int>(dtype_)] = {alpha, mul(c(h_.epsilon), root_bc2)};
  }

  std::string scalar_input(const std::string& name, proto::InputRole role) {
    TensorType scalar{DType::f32, {}};
    if (const Input* in = g_.find_input(name)) {
      if (in->role != role || in->type != scalar)
        throw Error(m_.source + ": input '" + name + "' is reserved for the optimizer (an f32 scalar of role " +
                    proto::InputRole_Name(role) + ")");
      return name;
    }
    if (g_.types.count(name) || g_.find_param(name))
      throw Error(m_.source + ": value '" + name + "' clashes with the optimizer's input of that name");
    return b_.input(name, scalar, role);
  }

  /// A zero-initialized frozen parameter `<w>.<suffix>` shaped like w.
  std::string state(const std::string& w, const std::string& suffix) {
    const OptimizerSpec* spec = find_optimizer_spec(kind_);
    if (!spec || std::find(spec->state.begin(), spec->state.end(), suffix) == spec->state.end())
      throw Error("internal error: optimizer " + kind_ + " keeps state '" + suffix +
                  "', which its entry in optimizers.cc does not list (validation checks names from it)");
    std::string name = w + "." + suffix;
    if (g_.types.count(name) || g_.find_param(name) || g_.find_input(name))
      throw Error(m_.source + ": optimizer state '" + name + "' clashes with an existing value");
    proto::Initializer zeros;
    zeros.mutable_zeros();
    std::string param = b_.param(name, g_.type_of(w), zeros, /*frozen=*/true);
    g_.params.back().optimizer_state = true;  // the param just added
    return param;
  }

  /// Records target := value after the step; returns value.
  std::string set(const std::string& target, const std::string& value) {
    m_.updates.emplace_back(target, value);
    return value;
  }

  Model& m_;
  Graph& g_;
  GraphBuilder b_;
  Hyper h_;
  DType dtype_ = DType::f32;
  std::string kind_;
  std::string lr_, step_;
  std::map<std::pair<int, double>, std::string> consts_, bias_;
  std::map<std::pair<std::string, int>, std::string> casts_;
  std::map<int, std::pair<std::string, std::string>> adam_;  // by dtype
};

}  // namespace

double default_learning_rate(const proto::Optimizer& opt) {
  if (opt.has_learning_rate()) return opt.learning_rate();
  const OptimizerSpec* spec = find_optimizer_spec(opt.kind().empty() ? "sgd" : opt.kind());
  return spec ? spec->hyper.at(0).default_value : 1e-3;
}

namespace {

std::string at(const std::string& source, int line) {
  if (line <= 0) return source.empty() ? "" : source + ": ";
  return (source.empty() ? "line " : source + ":") + std::to_string(line) + ": ";
}

/// What defines `name` in `g` ("parameter 'w'", "node 'h' (relu)") and its line.
std::optional<std::pair<std::string, int>> definition(const Graph& g, const std::string& name) {
  if (const Input* i = g.find_input(name)) return std::make_pair("input '" + name + "'", i->line);
  if (const Parameter* p = g.find_param(name)) return std::make_pair("parameter '" + name + "'", p->line);
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs)
      if (o == name) return std::make_pair("node '" + n.name + "' (" + n.op + ") output '" + name + "'", n.line);
  return std::nullopt;
}

}  // namespace

std::vector<std::string> optimizer_name_clashes(const Model& m) {
  std::vector<std::string> errors;
  if (!m.has_training()) return errors;
  const Graph& g = m.graph;
  const TensorType scalar{DType::f32, {}};
  for (auto [name, role] : {std::make_pair(kLearningRateInput, proto::LEARNING_RATE),
                            std::make_pair(kStepInput, proto::STEP)}) {
    if (const Input* in = g.find_input(name)) {
      if (in->role != role || in->type != scalar)
        errors.push_back(at(m.source, in->line) + "input '" + name + "' is " + in->type.str() + " of role " +
                         proto::InputRole_Name(in->role) + ", but the name is reserved for the optimizer's " +
                         scalar.str() + " input of role " + proto::InputRole_Name(role));
    } else if (auto d = definition(g, name)) {
      errors.push_back(at(m.source, d->second) + d->first + " clashes with the optimizer's input '" + name +
                       "'; rename it");
    }
  }
  const std::string& kind = m.training.optimizer().kind();
  const OptimizerSpec* spec = find_optimizer_spec(kind);
  if (!spec) return errors;
  for (const auto& p : g.params) {
    if (p.frozen || !is_float(p.type.dtype)) continue;
    for (const auto& suffix : spec->state) {
      std::string name = p.name + "." + suffix;
      if (auto d = definition(g, name))
        errors.push_back(at(m.source, d->second) + d->first + " clashes with the state '" + name +
                         "' that optimizer " + kind + " keeps for parameter '" + p.name + "'; rename it");
    }
  }
  return errors;
}

/// True once the optimizer is lowered: some update writes a trained
/// parameter. Updates of frozen state alone (batch_norm's running
/// statistics, recorded by expand_composites) come before the optimizer.
bool optimizer_lowered(const Model& m) {
  for (const auto& [state, value] : m.updates) {
    const Parameter* p = m.graph.find_param(state);
    if (p && !p->frozen) return true;
  }
  return false;
}

bool LowerOptimizerPass::run(Model& m) {
  if (!m.has_training() || optimizer_lowered(m)) return false;
  if (m.gradients.empty())
    throw Error(m.source + ": lower_optimizer: no gradients; autodiff must run first");
  const proto::Optimizer& opt = m.training.optimizer();
  const std::string kind = opt.kind().empty() ? "sgd" : opt.kind();
  if (std::vector<std::string> clashes = optimizer_name_clashes(m); !clashes.empty()) throw Error(clashes[0]);
  Lowering lowering(m, read_hyper(opt, m.source));
  lowering.add_inputs();
  // Parameter order, not gradient-map order, so the emitted graph reads like the model.
  std::vector<std::pair<std::string, std::string>> todo;
  for (const auto& p : m.graph.params) {
    if (p.frozen) continue;
    auto it = m.gradients.find(p.name);
    if (it == m.gradients.end()) continue;  // the loss does not depend on it
    if (m.graph.type_of(it->second) != p.type)
      throw Error(m.source + ": gradient '" + it->second + "' of parameter '" + p.name + "' has type " +
                  m.graph.type_of(it->second).str() + ", expected " + p.type.str());
    if (!is_float(p.type.dtype))
      throw Error(m.source + ": parameter '" + p.name + "' is " + p.type.str() + " and cannot be trained");
    todo.emplace_back(p.name, it->second);
  }
  for (const auto& [w, g] : todo) lowering.lower(kind, w, g);
  return true;
}

}  // namespace dlc
