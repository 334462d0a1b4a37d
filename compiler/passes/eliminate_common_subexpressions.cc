#include "compiler/passes/eliminate_common_subexpressions.h"

#include <map>
#include <set>

#include "ir/op_registry.h"

namespace dlc {
namespace {

/// Values whose names the model refers to outside the node list.
std::set<std::string> named_from_outside(const Model& m) {
  std::set<std::string> named(m.graph.outputs.begin(), m.graph.outputs.end());
  if (m.has_training()) named.insert(m.training.loss());
  for (const auto& [param, grad] : m.gradients) named.insert(grad);
  for (const auto& [state, value] : m.updates) named.insert(value);
  return named;
}

/// What makes two nodes the same computation: op, inputs and attributes.
std::string computation_key(const Node& n) {
  std::string key = n.op + "(";
  for (const auto& in : n.inputs) key += in + ",";
  key += ")";
  for (const auto& [name, value] : n.attrs) key += name + "=" + value.SerializeAsString() + ";";
  return key + "#" + std::to_string(n.outputs.size());
}

}  // namespace

bool EliminateCommonSubexpressionsPass::run(Model& m) {
  const std::set<std::string> named = named_from_outside(m);
  std::map<std::string, std::string> renamed;               // dropped output -> the kept one
  std::map<std::string, std::vector<std::string>> computed;  // computation key -> its outputs
  std::vector<Node> kept;
  kept.reserve(m.graph.nodes.size());
  for (Node& n : m.graph.nodes) {
    for (auto& in : n.inputs) {
      auto r = renamed.find(in);
      if (r != renamed.end()) in = r->second;
    }
    const OpDef* def = find_op(n.op);
    if (def && !def->random) {
      bool is_named = false;
      for (const auto& out : n.outputs) is_named = is_named || named.count(out);
      auto [earlier, is_first] = computed.emplace(computation_key(n), n.outputs);
      if (!is_first && !is_named) {
        for (size_t i = 0; i < n.outputs.size(); ++i) renamed[n.outputs[i]] = earlier->second[i];
        continue;
      }
    }
    kept.push_back(std::move(n));
  }
  m.graph.nodes = std::move(kept);  // the nodes were moved out, changed or not
  return !renamed.empty();
}

}  // namespace dlc
