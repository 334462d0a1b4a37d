// cse: one node for each distinct computation.
#pragma once

#include "compiler/pass.h"

namespace dlc {

/// Where two nodes apply the same op with the same attributes to the same
/// inputs, the later one is dropped and its readers read the earlier one's
/// outputs (the duplicate constants autodiff and the optimizer lowering
/// create, a forward value recomputed for a gradient). A node whose output
/// is named from outside the node list (a graph output, the loss, a
/// gradient, a state update) keeps its name and stays. Random ops never
/// merge: each draws its own numbers.
class EliminateCommonSubexpressionsPass : public Pass {
 public:
  std::string name() const override { return "cse"; }
  bool run(Model& m) override;
};

}  // namespace dlc
