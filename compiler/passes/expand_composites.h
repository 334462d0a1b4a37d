// expand_composites: rewrites composite ops into the primitives they are
// defined by (OpDef::expand), before autodiff, so gradients come from the
// primitives' rules and the backward graph fuses like any other.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "compiler/pass.h"

namespace dlc {

/// Replaces each node whose op has an expansion (softmax, the losses,
/// one_hot, argmax, logsumexp; matmul of non-f32) by the primitive ops it
/// emits, expanding composites inside expansions too. The node's output
/// names, and its name on the node computing its output, are kept, so
/// everything that reads them (outputs, the loss, other nodes) is unchanged.
/// When the model trains (and `training`: not `dlc compile --no-train`),
/// state that expansions update in a train step (batch_norm's running
/// statistics) joins Model::updates. The convolution library calls
/// (Lowering::convolution) are primitives, expanded into im2col + GEMM only
/// with `convolutions_as_gemm`: for targets that have no convolution library
/// (cuda), before autodiff, so their gradients come from those primitives.
class ExpandCompositesPass : public Pass {
 public:
  explicit ExpandCompositesPass(bool training = true, bool convolutions_as_gemm = false)
      : training_(training), convolutions_as_gemm_(convolutions_as_gemm) {}
  std::string name() const override { return "expand_composites"; }
  bool run(Model& m) override;

 private:
  bool training_;
  bool convolutions_as_gemm_;
};

/// The pass on a graph alone; returns whether anything was expanded.
/// Autodiff calls it first, and lowering on a copy of a graph that still
/// has composites, so each stage can be run on its own (tests, gradcheck).
/// State updates go to `state_updates` (GraphBuilder::update_state); when
/// it is null, expansions emit none.
bool expand_composites(Graph& g, std::vector<std::pair<std::string, std::string>>* state_updates = nullptr,
                       bool convolutions_as_gemm = false);

/// True when some node of `g` has an expansion that applies to it (the
/// convolution library calls are not composites here).
bool has_composites(const Graph& g);


}  // namespace dlc
