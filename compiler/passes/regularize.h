// Regularization: adds weight penalties to the training loss as graph ops.
#pragma once

#include <string>
#include <vector>

#include "compiler/pass.h"

namespace dlc {

/// For each Regularizer in the training section, adds
///   l1 · Σ|w| + l2 · Σ w²
/// over its parameters (every trainable parameter when its list is empty) to
/// the loss, and points `training.loss` at the new total. Convention: the L2
/// penalty has no 1/2, so its gradient is 2·l2·w. Runs before autodiff, so
/// the penalties' gradients come out of ordinary differentiation.
/// Throws dlc::Error naming a parameter that does not exist or is not float,
/// or a coefficient that is negative or not finite (check_regularization).
class RegularizePass : public Pass {
 public:
  std::string name() const override { return "regularize"; }
  bool run(Model& m) override;
};

/// Every problem with the training section's regularizers, one message
/// each: l1 or l2 negative or not finite, a listed parameter not float.
std::vector<std::string> check_regularization(const Model& m);

}  // namespace dlc
