// Iterative walks over scalar expression DAGs.
//
// Expressions can be deep (a fused kernel inlines a chain of element-wise
// ops, an executable's file can hold any chain), so walkers that recurse once
// per level overflow the stack on a long chain, and walkers that recurse once
// per *use* visit a shared node once per path, which grows exponentially
// along chains of diamonds (an activation and its gradient both reading a
// value). Every walker here uses an explicit stack and visits each distinct
// node once.
#pragma once

#include <vector>

#include "ir/scalar_expr.h"

namespace dlc {

/// Every distinct node reachable from `roots`, each once, operands before
/// their users: the order a recursive walk that handles args[0], args[1], ...
/// in turn and then the node itself would first finish each node.
std::vector<const ScalarNode*> scalar_post_order(const std::vector<const ScalarNode*>& roots);
inline std::vector<const ScalarNode*> scalar_post_order(const SExpr& root) { return scalar_post_order({root.get()}); }

/// Nodes on the longest path from any of `roots` to a leaf (a leaf alone is
/// 1; null roots are skipped).
int scalar_depth(const std::vector<const ScalarNode*>& roots);

/// The distinct ScalarOp::arg indices an expression reads, sorted.
std::vector<int> scalar_args(const std::vector<const ScalarNode*>& roots);

}  // namespace dlc
