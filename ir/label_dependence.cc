#include "ir/label_dependence.h"

#include <map>

namespace dlc {

std::set<std::string> inputs_needed(const Graph& g, const std::vector<std::string>& values) {
  std::map<std::string, const Node*> producer;
  for (const auto& n : g.nodes)
    for (const auto& o : n.outputs) producer[o] = &n;
  std::set<std::string> seen, needed;
  std::vector<std::string> stack = values;
  while (!stack.empty()) {
    std::string v = stack.back();
    stack.pop_back();
    if (!seen.insert(v).second) continue;
    auto it = producer.find(v);
    if (it != producer.end()) {
      for (const auto& in : it->second->inputs) stack.push_back(in);
    } else if (g.find_input(v)) {
      needed.insert(v);
    }
  }
  return needed;
}

std::vector<std::string> label_inputs_needed(const Graph& g, const std::string& value) {
  std::set<std::string> needed = inputs_needed(g, {value});
  std::vector<std::string> labels;
  for (const auto& in : g.inputs)
    if (in.role == proto::LABEL && needed.count(in.name)) labels.push_back(in.name);
  return labels;
}

std::string describe_label_need(const std::vector<std::string>& labels) {
  std::string names;
  for (const auto& l : labels) names += (names.empty() ? "'" : ", '") + l + "'";
  return std::string(labels.size() == 1 ? "needs the LABEL input " : "needs the LABEL inputs ") + names;
}

}  // namespace dlc
