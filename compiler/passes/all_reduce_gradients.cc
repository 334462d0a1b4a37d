#include "compiler/passes/all_reduce_gradients.h"

#include "compiler/passes/lower_optimizer.h"
#include "ir/builder.h"
#include "ir/error.h"

namespace dlc {
namespace {

constexpr const char* kAllReduceMean = "all_reduce_mean";

bool has_collectives(const Graph& g) {
  for (const auto& n : g.nodes)
    if (n.op == kAllReduceMean) return true;
  return false;
}

/// `wanted` when no value has that name yet, else a fresh name from it.
std::string free_name(Graph& g, const std::string& wanted) {
  return g.types.count(wanted) || g.find_input(wanted) || g.find_param(wanted) ? g.fresh_name(wanted) : wanted;
}

/// The mean over the processes of `value`, named `<value>.mean`.
std::string mean_of(Graph& g, GraphBuilder& b, const std::string& value) {
  return b.emit(kAllReduceMean, {value}, {}, {free_name(g, value + ".mean")})[0];
}

/// Gives the node computing `value` a new output name and every use of it
/// that name; returns the new name.
std::string rename_value(Graph& g, const std::string& value, const std::string& new_name) {
  bool produced = false;
  for (auto& n : g.nodes) {
    for (auto& o : n.outputs)
      if (o == value) o = new_name, produced = true;
    for (auto& i : n.inputs)
      if (i == value) i = new_name;
    if (n.name == value) n.name = new_name;
  }
  if (!produced) return "";
  g.types[new_name] = g.types.at(value);
  g.types.erase(value);
  return new_name;
}

}  // namespace

bool AllReduceGradientsPass::run(Model& m) {
  if (!m.has_training() || has_collectives(m.graph)) return false;
  if (m.gradients.empty()) throw Error(m.source + ": all_reduce_gradients: no gradients; autodiff must run first");
  if (optimizer_lowered(m))
    throw Error(m.source + ": all_reduce_gradients must run before lower_optimizer (the update must read the averaged gradient)");
  Graph& g = m.graph;
  GraphBuilder b(g);
  // Parameter order, so the bucket reads like the model.
  for (const auto& p : g.params) {
    auto it = m.gradients.find(p.name);
    if (it != m.gradients.end()) it->second = mean_of(g, b, it->second);
  }
  // Updates recorded before the optimizer's: running statistics.
  for (auto& [state, value] : m.updates) value = mean_of(g, b, value);

  const std::string loss = m.training.loss();
  if (g.find_input(loss) || g.find_param(loss))
    throw Error(m.source + ": the loss '" + loss + "' is an input or a parameter; nothing computes it to average");
  std::string local = rename_value(g, loss, free_name(g, loss + ".local"));
  if (local.empty()) throw Error(m.source + ": no node computes the loss '" + loss + "'");
  // Autodiff's bookkeeping may name the loss; it now names the local one.
  for (auto& [param, grad] : m.gradients)
    if (grad == loss) grad = local;
  b.emit(kAllReduceMean, {local}, {}, {loss});
  return true;
}

}  // namespace dlc
