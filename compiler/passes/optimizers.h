// The optimizers dlc lowers, as one table: each kind's hyper-parameters with
// their defaults, the state it keeps per parameter, and its update rule.
//
// lower_optimizer emits the rules; model validation, `dlc check`'s summary
// and docs/optimizers.md read this table, so what a user is told is what is
// computed.
#pragma once

#include <string>
#include <vector>

#include "ir/dlc.pb.h"

namespace dlc {

struct HyperParameter {
  std::string name;  // the Optimizer message's field
  double default_value;
};

struct OptimizerSpec {
  std::string kind;
  /// The hyper-parameters the kind reads, learning_rate first; any other
  /// field set in the model is an error.
  std::vector<HyperParameter> hyper;
  /// State kept per trainable parameter w, as frozen parameters `w.<suffix>`.
  std::vector<std::string> state;
  /// The update, with g the gradient (plus weight_decay·w, except adamw).
  std::string rule;
  /// The PyTorch optimizer computing the same update with the same defaults.
  std::string pytorch;
};

/// Every kind, in the order the documentation lists them.
const std::vector<OptimizerSpec>& optimizer_specs();

/// The kind's entry, or nullptr for an unknown kind.
const OptimizerSpec* find_optimizer_spec(const std::string& kind);

/// One hyper-parameter as the lowering will use it.
struct HyperValue {
  std::string name;
  double value;
  bool given;  // set in the model; false: the default
};

/// The values `opt` will use, in the table's order (empty for an unknown kind).
std::vector<HyperValue> resolve_hyper_parameters(const proto::Optimizer& opt);

/// The value of hyper-parameter `name` that `opt` will use. Throws
/// dlc::Error when the kind does not use it (a lowering bug).
double hyper_parameter(const proto::Optimizer& opt, const std::string& name);

/// Every problem with the optimizer's hyper-parameters, one message each,
/// prefixed by `prefix` (for instance "model.pbtxt: training: "): a value out
/// of range, not finite, or set although the kind does not use it.
std::vector<std::string> check_hyper_parameters(const proto::Optimizer& opt, const std::string& prefix);

}  // namespace dlc
