#include "compiler/passes/fold_constants.h"

#include <map>

#include "ir/error.h"
#include "ir/op_registry.h"
#include "ir/tensor.h"

namespace dlc {
namespace {

/// The value of `n`, whose inputs are in `known`, by its reference kernel.
Tensor evaluate(const Graph& g, const Node& n, const OpDef& def, const std::map<std::string, Tensor>& known) {
  std::vector<const Tensor*> ins;
  for (const auto& in : n.inputs) ins.push_back(&known.at(in));
  std::vector<Tensor> outs = {Tensor(g.type_of(n.outputs[0]))};
  def.eval(n, ins, outs, EvalContext{});
  return outs[0];
}

/// A constant node with `n`'s name, output and line holding `value`.
Node constant_node(const Node& n, const Tensor& value) {
  Node c;
  c.name = n.name;
  c.op = "constant";
  c.outputs = n.outputs;
  c.line = n.line;
  c.attrs["dtype"] = attr_dtype(value.type.dtype);
  c.attrs["dims"] = attr_ints(value.type.dims);
  bool uniform = true;
  for (double v : value.data) uniform = uniform && v == value.data[0];
  if (uniform && !value.data.empty()) {
    c.attrs["value"] = attr_f(value.data[0]);
  } else {
    proto::AttrValue values;
    for (double v : value.data) values.mutable_floats()->add_values(v);
    c.attrs["values"] = values;
  }
  return c;
}

}  // namespace

bool FoldConstantsPass::run(Model& m) {
  Graph& g = m.graph;
  std::map<std::string, Tensor> known;  // outputs of constant nodes
  bool changed = false;
  for (Node& n : g.nodes) {
    const OpDef* def = find_op(n.op);
    if (!def) throw Error("node '" + n.name + "': unknown op '" + n.op + "'");
    // if_training's value depends on the entry point, which is not known here.
    bool foldable = n.op != "constant" && !def->random && def->lowering != Lowering::training_switch &&
                    n.outputs.size() == 1 && !n.inputs.empty() &&
                    g.type_of(n.outputs[0]).numel() <= kMaxFoldedElements;
    for (const auto& in : n.inputs) foldable = foldable && known.count(in);
    if (foldable) {
      Tensor value = evaluate(g, n, *def, known);
      round_to_dtype(value);  // what the value is at run time
      n = constant_node(n, value);
      known[n.outputs[0]] = std::move(value);
      changed = true;
    } else if (n.op == "constant" && g.type_of(n.outputs[0]).numel() <= kMaxFoldedElements) {
      known[n.outputs[0]] = evaluate(g, n, *def, known);
    }
  }
  return changed;
}

}  // namespace dlc
