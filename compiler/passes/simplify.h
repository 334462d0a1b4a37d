// simplify: removes nodes nothing needs (dead code).
#pragma once

#include "compiler/pass.h"

namespace dlc {

/// Keeps only the nodes that the graph outputs, the training loss, the
/// gradients and the state updates depend on. Returns true when it removed
/// any node.
class SimplifyPass : public Pass {
 public:
  std::string name() const override { return "simplify"; }
  bool run(Model& m) override;
};

}  // namespace dlc
