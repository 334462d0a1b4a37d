// Optimizer lowering: the parameter update as ordinary element-wise graph ops.
#pragma once

#include "compiler/pass.h"
#include "ir/dlc.pb.h"

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
/// Kinds: sgd, momentum, nesterov, adagrad, rmsprop, adadelta, adam, adamw;
/// the formulas are in lower_optimizer.cc. `weight_decay` is decoupled for
/// adamw (default 0.01) and added to the gradient (g + wd·w) for the others
/// (default 0). Does nothing for a model without a training section or one
/// already lowered. Throws dlc::Error when gradients are missing or a
/// hyper-parameter is out of range, naming it.
class LowerOptimizerPass : public Pass {
 public:
  std::string name() const override { return "lower_optimizer"; }
  bool run(Model& m) override;
};

/// The learning rate the runtime uses when the user gives none: the model's
/// `learning_rate` when set, else the kind's customary default (adadelta 1.0,
/// adam/adamw/rmsprop 0.001, the others 0.01).
double default_learning_rate(const proto::Optimizer& opt);

/// Names of the inputs the pass adds.
inline constexpr const char* kLearningRateInput = "learning_rate";
inline constexpr const char* kStepInput = "step";

}  // namespace dlc
