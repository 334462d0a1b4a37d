#include "compiler/passes/optimizers.h"

#include <cmath>
#include <optional>

#include "ir/error.h"
#include "ir/printer.h"

namespace dlc {
namespace {

// Defaults are PyTorch's (torch.optim, 2.x), so a model moved between the
// two trains the same way; `pytorch` names the equivalent call. The one
// exception: PyTorch's SGD has momentum 0 by default, while dlc's kinds
// `momentum` and `nesterov` exist to have momentum and use the customary 0.9.
const std::vector<OptimizerSpec> kSpecs = {
    {"sgd",
     {{"learning_rate", 1e-3}, {"weight_decay", 0}},
     {},
     "w -= learning_rate*g",
     "torch.optim.SGD(lr=1e-3)"},
    {"momentum",
     {{"learning_rate", 1e-3}, {"momentum", 0.9}, {"weight_decay", 0}},
     {"velocity"},
     "velocity = momentum*velocity + g;  w -= learning_rate*velocity",
     "torch.optim.SGD(lr=1e-3, momentum=0.9)"},
    {"nesterov",
     {{"learning_rate", 1e-3}, {"momentum", 0.9}, {"weight_decay", 0}},
     {"velocity"},
     "velocity = momentum*velocity + g;  w -= learning_rate*(g + momentum*velocity)",
     "torch.optim.SGD(lr=1e-3, momentum=0.9, nesterov=True)"},
    {"adagrad",
     {{"learning_rate", 1e-2}, {"epsilon", 1e-10}, {"weight_decay", 0}},
     {"sum_sq"},
     "sum_sq += g^2;  w -= learning_rate*g / (sqrt(sum_sq) + epsilon)",
     "torch.optim.Adagrad(lr=1e-2, eps=1e-10)"},
    {"rmsprop",
     {{"learning_rate", 1e-2}, {"rho", 0.99}, {"epsilon", 1e-8}, {"weight_decay", 0}},
     {"mean_sq"},
     "mean_sq = rho*mean_sq + (1-rho)*g^2;  w -= learning_rate*g / (sqrt(mean_sq) + epsilon)",
     "torch.optim.RMSprop(lr=1e-2, alpha=0.99, eps=1e-8)"},
    {"adadelta",
     {{"learning_rate", 1.0}, {"rho", 0.9}, {"epsilon", 1e-6}, {"weight_decay", 0}},
     {"mean_sq_grad", "mean_sq_delta"},
     "mean_sq_grad = rho*mean_sq_grad + (1-rho)*g^2;  "
     "delta = sqrt(mean_sq_delta + epsilon) / sqrt(mean_sq_grad + epsilon) * g;  "
     "mean_sq_delta = rho*mean_sq_delta + (1-rho)*delta^2;  w -= learning_rate*delta",
     "torch.optim.Adadelta(lr=1.0, rho=0.9, eps=1e-6)"},
    {"adam",
     {{"learning_rate", 1e-3}, {"beta1", 0.9}, {"beta2", 0.999}, {"epsilon", 1e-8}, {"weight_decay", 0}},
     {"m", "v"},
     "m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g^2;  "
     "w -= learning_rate*(m/(1-beta1^t)) / (sqrt(v/(1-beta2^t)) + epsilon), t the 1-based step",
     "torch.optim.Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8)"},
    {"adamw",
     {{"learning_rate", 1e-3}, {"beta1", 0.9}, {"beta2", 0.999}, {"epsilon", 1e-8}, {"weight_decay", 0.01}},
     {"m", "v"},
     "adam's update of m, v and w with g the plain gradient, then w -= learning_rate*weight_decay*w_before "
     "(decoupled decay)",
     "torch.optim.AdamW(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)"},
};

const char* const kAllFields[] = {"learning_rate", "momentum", "beta1", "beta2", "epsilon", "rho", "weight_decay"};

std::optional<double> given(const proto::Optimizer& o, const std::string& name) {
  if (name == "learning_rate" && o.has_learning_rate()) return o.learning_rate();
  if (name == "momentum" && o.has_momentum()) return o.momentum();
  if (name == "beta1" && o.has_beta1()) return o.beta1();
  if (name == "beta2" && o.has_beta2()) return o.beta2();
  if (name == "epsilon" && o.has_epsilon()) return o.epsilon();
  if (name == "rho" && o.has_rho()) return o.rho();
  if (name == "weight_decay" && o.has_weight_decay()) return o.weight_decay();
  return std::nullopt;
}

/// "" when `v` is a valid value of hyper-parameter `name`, else its range.
std::string out_of_range(const std::string& name, double v) {
  // Decay rates: 1 would never forget (and divides by 1 - 1 in Adam's bias
  // correction); NaN fails every comparison and so lands here too.
  if (name == "momentum" || name == "beta1" || name == "beta2" || name == "rho")
    return v >= 0 && v < 1 ? "" : "in [0, 1)";
  return std::isfinite(v) && v >= 0 ? "" : "a finite number >= 0";
}

std::string join(const std::vector<HyperParameter>& hyper) {
  std::string s;
  for (const auto& h : hyper) s += (s.empty() ? "" : ", ") + h.name;
  return s;
}

}  // namespace

const std::vector<OptimizerSpec>& optimizer_specs() { return kSpecs; }

const OptimizerSpec* find_optimizer_spec(const std::string& kind) {
  for (const auto& s : kSpecs)
    if (s.kind == kind) return &s;
  return nullptr;
}

std::vector<HyperValue> resolve_hyper_parameters(const proto::Optimizer& opt) {
  std::vector<HyperValue> values;
  const OptimizerSpec* spec = find_optimizer_spec(opt.kind());
  if (!spec) return values;
  for (const auto& h : spec->hyper) {
    std::optional<double> v = given(opt, h.name);
    values.push_back({h.name, v.value_or(h.default_value), v.has_value()});
  }
  return values;
}

double hyper_parameter(const proto::Optimizer& opt, const std::string& name) {
  for (const auto& v : resolve_hyper_parameters(opt))
    if (v.name == name) return v.value;
  throw Error("internal error: optimizer " + opt.kind() + " has no hyper-parameter '" + name + "'");
}

std::vector<std::string> check_hyper_parameters(const proto::Optimizer& opt, const std::string& prefix) {
  std::vector<std::string> errors;
  const OptimizerSpec* spec = find_optimizer_spec(opt.kind());
  if (!spec) return errors;  // the verifier names an unknown kind
  std::string where = prefix + "optimizer " + opt.kind() + ": ";
  for (const char* field : kAllFields) {
    std::optional<double> v = given(opt, field);
    if (!v) continue;
    bool used = false;
    for (const auto& h : spec->hyper) used = used || h.name == field;
    if (!used) {
      errors.push_back(where + field + " " + format_number(*v) + " is set, but " + opt.kind() +
                       " does not use it (it uses " + join(spec->hyper) + ")");
      continue;
    }
    std::string range = out_of_range(field, *v);
    if (!range.empty()) errors.push_back(where + field + " must be " + range + ", got " + format_number(*v));
  }
  return errors;
}

}  // namespace dlc
