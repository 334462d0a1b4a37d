// fold_constants: computes at compile time what depends only on constants.
#pragma once

#include "compiler/pass.h"

namespace dlc {

/// Replaces every node whose inputs are all constants, and whose one output
/// is small (kMaxFoldedElements), by a constant holding its value, computed
/// by the op's reference kernel and rounded to the output's dtype. Output
/// names are kept, so nothing that reads them changes. Folding runs in
/// graph order, so chains of constant arithmetic fold completely (Adam's
/// 1 - beta, the loss gradient's 1/1). Random ops are never folded.
class FoldConstantsPass : public Pass {
 public:
  /// Larger results stay computed at run time: baking them in would grow
  /// the executable for no saving (they are computed once per step anyway).
  static constexpr int64_t kMaxFoldedElements = 64;

  std::string name() const override { return "fold_constants"; }
  bool run(Model& m) override;
};

}  // namespace dlc
