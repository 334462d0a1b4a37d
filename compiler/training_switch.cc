#include "compiler/training_switch.h"

#include "ir/op_registry.h"

namespace dlc {

namespace {
bool is_switch(const Node& n) {
  const OpDef* def = find_op(n.op);
  return def && def->lowering == Lowering::training_switch;
}
}  // namespace

bool has_training_switches(const Graph& g) {
  for (const auto& n : g.nodes)
    if (is_switch(n)) return true;
  return false;
}

Graph resolve_training_switches(const Graph& g, bool training, std::vector<std::string>* resolved) {
  Graph r = g;
  for (Node& n : r.nodes) {
    if (!is_switch(n)) continue;
    std::string taken = n.inputs[training ? 0 : 1];
    if (resolved)
      resolved->push_back("%" + n.outputs[0] + " (" + n.op + "): " + (training ? "training" : "inference") +
                          " entry reads %" + taken);
    // A reshape to the same dims relabels nothing: fusion treats it as the
    // value itself (a view, never a copy).
    n.op = "reshape";
    n.inputs = {taken};
    n.attrs = {{"dims", attr_ints(g.type_of(n.outputs[0]).dims)}};
  }
  return r;
}

}  // namespace dlc
