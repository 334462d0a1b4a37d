#include "ir/scalar_walk.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace dlc {

std::vector<const ScalarNode*> scalar_post_order(const std::vector<const ScalarNode*>& roots) {
  std::vector<const ScalarNode*> order;
  std::unordered_set<const ScalarNode*> done;
  // (node, next operand to visit)
  std::vector<std::pair<const ScalarNode*, size_t>> stack;
  for (const ScalarNode* r : roots) {
    if (!r || done.count(r)) continue;
    stack.emplace_back(r, 0);
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      if (next < n->args.size()) {
        const ScalarNode* a = n->args[next++].get();
        if (a && !done.count(a)) stack.emplace_back(a, 0);
        continue;
      }
      // A node reached twice before it finished (only possible through a
      // cycle, which immutable nodes cannot form) is still emitted once.
      if (done.insert(n).second) order.push_back(n);
      stack.pop_back();
    }
  }
  return order;
}

int scalar_depth(const std::vector<const ScalarNode*>& roots) {
  std::unordered_map<const ScalarNode*, int> depth;
  int deepest = 0;
  for (const ScalarNode* n : scalar_post_order(roots)) {
    int d = 0;
    for (const auto& a : n->args)
      if (a.get()) d = std::max(d, depth.at(a.get()));
    depth[n] = d + 1;
    deepest = std::max(deepest, d + 1);
  }
  return deepest;
}

std::vector<int> scalar_args(const std::vector<const ScalarNode*>& roots) {
  std::vector<int> out;
  for (const ScalarNode* n : scalar_post_order(roots))
    if (n->op == ScalarOp::arg) out.push_back(n->index);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace dlc
