// The reference interpreter: runs a verified, batch-bound graph in float64.
//
// It is the oracle every other backend is tested against, so it is plain
// rather than fast: one registry kernel per node, in topological order.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/op_registry.h"
#include "ir/tensor.h"

namespace dlc {

class RefInterpreter {
 public:
  /// `g` must have passed verify_graph with its batch dimension bound.
  explicit RefInterpreter(const Graph& g) : g_(g) {}

  /// Evaluates the values named in `wanted` from `feeds` (graph inputs and
  /// parameters by name; intermediate values too, which then stand in for
  /// the nodes computing them, unless wanted). Only the nodes those values
  /// depend on run.
  /// Throws dlc::Error naming a missing feed or a feed of the wrong shape.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& feeds,
                                    const std::vector<std::string>& wanted,
                                    const EvalContext& ctx = {}) const;

 private:
  const Graph& g_;
};

}  // namespace dlc
