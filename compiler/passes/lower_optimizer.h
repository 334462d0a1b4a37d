// Optimizer lowering: the parameter update as ordinary element-wise graph ops.
#pragma once

#include "compiler/pass.h"
#include <string>
#include <vector>

#include "ir/dlc.pb.h"
#include "ir/graph.h"

namespace dlc {

/// Turns the training section's optimizer into graph ops. Runs after
/// autodiff (it reads Model::gradients) and:
///  - adds the scalar f32 graph inputs `learning_rate` (role LEARNING_RATE)
///    and `step` (role STEP: the 1-based number of this update), so learning
///    rate schedules and bias correction need no recompilation;
///  - adds optimizer state as frozen, zero-initialized Parameters named
///    `<param>.<state>` (e.g. `w.m`, `w.v` for Adam);
///  - emits each update element-wise, so fusion makes one kernel of each
///    parameter's whole update;
///  - fills Model::updates with (param, new value) and (state, new state).
/// Kinds, rules and defaults: the table in optimizers.h (docs/optimizers.md).
/// `weight_decay` is decoupled for adamw (default 0.01) and added to the
/// gradient (g + wd·w) for the others (default 0). Does nothing for a model
/// without a training section or one already lowered. Throws dlc::Error when
/// gradients are missing, a hyper-parameter is out of range or a name the
/// lowering needs is taken, naming it (validate_model finds these first).
class LowerOptimizerPass : public Pass {
 public:
  std::string name() const override { return "lower_optimizer"; }
  bool run(Model& m) override;
};

/// The learning rate the runtime uses when the user gives none: the model's
/// `learning_rate` when set, else the kind's default from optimizers.h
/// (PyTorch's: adadelta 1.0, adagrad and rmsprop 0.01, the others 0.001).
double default_learning_rate(const proto::Optimizer& opt);

/// Every name the lowering needs that the model already uses, one message
/// each with file:line: `learning_rate` and `step` unless they are f32
/// scalar inputs of their roles, and the state `<w>.<suffix>` the optimizer
/// keeps for each trainable parameter w. Empty without a training section.
std::vector<std::string> optimizer_name_clashes(const Model& m);

/// True once the optimizer is lowered: some update writes a trained parameter.
bool optimizer_lowered(const Model& m);

/// Names of the inputs the pass adds.
inline constexpr const char* kLearningRateInput = "learning_rate";
inline constexpr const char* kStepInput = "step";

}  // namespace dlc
