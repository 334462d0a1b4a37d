// Autodiff: reverse-mode symbolic differentiation over the graph IR.
//
// Each op's gradient rule (OpDef::grad, in ir/ops/) emits ordinary graph ops,
// so the backward graph is verified, simplified, fused and compiled exactly
// like the forward one.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compiler/pass.h"
#include "ir/graph.h"

namespace dlc {

/// Appends to `g` the nodes computing d(loss)/d(v) for every v in `wrt` and
/// returns v -> the value holding that gradient (same type as v).
///
/// `g` must be verified (nodes topologically sorted, `g.types` filled). Its
/// composites are expanded into primitives first (expand_composites), in
/// place, keeping their output names: their gradients are their primitives'.
/// The seed d(loss)/d(loss) is a constant of ones of the loss's type, so for
/// a non-scalar loss the result is the gradient of the sum of its elements.
/// Only nodes on a path from a wrt value to the loss are differentiated;
/// the gradients of values with several consumers are summed. Gradient
/// nodes that no returned gradient needs are removed again. A wrt value the
/// loss does not depend on gets a zeros constant of its type. The gradient
/// of `w` is named `w.grad` when that name is free and the value is new.
///
/// Throws dlc::Error naming every node and op whose gradient is needed but
/// has no gradient rule (non_differentiable_nodes), or when the loss depends on a wrt value only
/// through such a node ("node 'am' (argmax) is not differentiable; the loss
/// depends on parameter 'w' through it"). `source` prefixes messages with
/// "file:line: " when the node's line is known.
std::map<std::string, std::string> append_gradients(Graph& g, const std::string& loss,
                                                    const std::vector<std::string>& wrt,
                                                    const std::string& source = "");

/// Every node on a path from a value in `wrt` to `loss` whose op has no
/// gradient rule, one message each, in graph order, naming the node, its
/// line and the wrt values behind it:
///   "model.pbtxt:12: node 't' (sign) is not differentiable; the loss
///    depends on parameter 'W' through it"
/// A path counts only through float values (integers carry no gradient).
/// `g` must be verified and its composites expanded (append_gradients does
/// both; validate_model runs this on an expanded copy).
std::vector<std::string> non_differentiable_nodes(const Graph& g, const std::string& loss,
                                                  const std::vector<std::string>& wrt,
                                                  const std::string& source = "");

/// For a model with a training section: differentiates the loss with respect
/// to every trainable (non-frozen, float) parameter and fills
/// Model::gradients. Does nothing without a training section, without
/// trainable parameters, or when gradients were already appended.
class AutodiffPass : public Pass {
 public:
  std::string name() const override { return "autodiff"; }
  bool run(Model& m) override;
};

}  // namespace dlc
