#include "compiler/passes/simplify.h"

#include <map>
#include <set>

namespace dlc {

bool SimplifyPass::run(Model& m) {
  Graph& g = m.graph;
  std::vector<std::string> roots = g.outputs;
  if (m.has_training()) roots.push_back(m.training.loss());
  for (const auto& [param, grad] : m.gradients) roots.push_back(grad);
  for (const auto& [state, value] : m.updates) roots.push_back(value);

  std::map<std::string, size_t> producer;
  for (size_t k = 0; k < g.nodes.size(); ++k)
    for (const auto& o : g.nodes[k].outputs) producer[o] = k;
  std::vector<bool> live(g.nodes.size(), false);
  std::set<std::string> seen;
  while (!roots.empty()) {
    std::string v = roots.back();
    roots.pop_back();
    if (!seen.insert(v).second) continue;
    auto it = producer.find(v);
    if (it == producer.end() || live[it->second]) continue;
    live[it->second] = true;
    for (const auto& in : g.nodes[it->second].inputs) roots.push_back(in);
  }
  std::vector<Node> kept;
  for (size_t k = 0; k < g.nodes.size(); ++k)
    if (live[k]) kept.push_back(std::move(g.nodes[k]));
  bool changed = kept.size() != g.nodes.size();
  g.nodes = std::move(kept);
  return changed;
}

}  // namespace dlc
