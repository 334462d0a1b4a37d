// Data parallelism in the graph (dlc compile --data-parallel): every process
// of a run computes the train step on its own rows, and the step averages
// what must agree across processes before anything is updated.
#pragma once

#include <string>

#include "compiler/pass.h"

namespace dlc {

/// Inserts all_reduce_mean (ir/ops/collective.cc) between each trainable
/// parameter's gradient and the optimizer, on every state update recorded
/// so far (batch normalization's running statistics, so every process keeps
/// the same ones), and on the loss (the node computing it now yields
/// `<loss>.local`, and the averaged value keeps the loss's name, so
/// train_step returns the loss of the whole global batch). With equal rows
/// per process, the mean of the processes' mean-loss gradients is the
/// gradient of the global batch's mean loss. Runs after autodiff and before
/// lower_optimizer; does nothing when the model already has collectives.
/// Lowering puts all of them in one step (a bucket).
class AllReduceGradientsPass : public Pass {
 public:
  std::string name() const override { return "all_reduce_gradients"; }
  bool run(Model& m) override;
};

}  // namespace dlc
