#include "ir/builder.h"

#include <stdexcept>

#include "ir/error.h"
#include "ir/op_registry.h"
#include "ir/verifier.h"

namespace dlc {

std::string GraphBuilder::input(const std::string& name, TensorType type, proto::InputRole role) {
  g_.inputs.push_back({name, type, role, 0});
  g_.types[name] = type;
  return name;
}

std::string GraphBuilder::param(const std::string& name, TensorType type, proto::Initializer init,
                                bool frozen) {
  g_.params.push_back({name, type, std::move(init), frozen, 0});
  g_.types[name] = type;
  return name;
}

std::vector<std::string> GraphBuilder::emit(const std::string& op,
                                            const std::vector<std::string>& inputs,
                                            const Attrs& attrs, std::vector<std::string> out_names) {
  const OpDef* def = find_op(op);
  if (!def) throw Error("unknown op '" + op + "'");
  if (out_names.empty())
    for (int i = 0; i < def->num_outputs; ++i) out_names.push_back(g_.fresh_name(op));
  Node n;
  n.op = op;
  n.inputs = inputs;
  n.outputs = out_names;
  n.attrs = attrs;
  n.name = out_names[0];
  std::vector<TensorType> in_types;
  for (const auto& i : inputs) {
    if (!g_.types.count(i)) throw Error("node '" + n.name + "' (" + op + "): undefined input '" + i + "'");
    in_types.push_back(g_.types.at(i));
  }
  if (static_cast<int>(inputs.size()) < def->min_inputs || static_cast<int>(inputs.size()) > def->max_inputs)
    throw Error("node '" + n.name + "' (" + op + "): wrong number of inputs: " + std::to_string(inputs.size()));
  std::string err = check_attrs(n, *def);
  if (!err.empty()) throw Error("node '" + n.name + "' (" + op + "): " + err);
  std::vector<TensorType> out_types;
  err = def->infer(n, in_types, &out_types);
  if (!err.empty()) throw Error("node '" + n.name + "' (" + op + "): " + err);
  for (size_t i = 0; i < out_names.size() && i < out_types.size(); ++i) g_.types[out_names[i]] = out_types[i];
  g_.nodes.push_back(std::move(n));
  return out_names;
}

std::string GraphBuilder::op(const std::string& op, const std::vector<std::string>& inputs,
                             const Attrs& attrs, const std::string& out_name) {
  std::vector<std::string> names;
  if (!out_name.empty()) names.push_back(out_name);
  return emit(op, inputs, attrs, names)[0];
}

void GraphBuilder::update_state(const std::string& param, const std::string& value) {
  if (!state_updates_) throw std::logic_error("GraphBuilder::update_state: nothing records state updates");
  const Parameter* p = g_.find_param(param);
  if (!p) throw Error("'" + param + "' is updated in training, so it must be a parameter (frozen: true); it is " +
                      (g_.find_input(param) ? "a graph input" : "computed by a node"));
  if (!p->frozen)
    throw Error("parameter '" + param + "' is updated in training, so it must be frozen (frozen: true); "
                "otherwise the optimizer would update it too");
  for (const auto& [state, old_value] : *state_updates_)
    if (state == param) throw Error("parameter '" + param + "' is updated twice in one train step (by %" +
                                    old_value + " and %" + value + "); give each user its own state");
  state_updates_->emplace_back(param, value);
}

std::string GraphBuilder::scalar(double v, DType dtype) {
  return op("constant", {}, {{"value", attr_f(v)}, {"dtype", attr_dtype(dtype)}});
}

std::string GraphBuilder::fill(double v, const TensorType& type) {
  return op("constant", {},
            {{"value", attr_f(v)}, {"dtype", attr_dtype(type.dtype)}, {"dims", attr_ints(type.dims)}});
}

std::string GraphBuilder::matmul(const std::string& a, const std::string& b, bool ta, bool tb) {
  Attrs attrs;
  if (ta) attrs["transpose_a"] = attr_b(true);
  if (tb) attrs["transpose_b"] = attr_b(true);
  return op("matmul", {a, b}, attrs);
}

std::string GraphBuilder::reduce_sum(const std::string& x, const std::vector<int64_t>& axes, bool keepdims) {
  Attrs attrs{{"axes", attr_ints(axes)}};
  if (keepdims) attrs["keepdims"] = attr_b(true);
  return op("reduce_sum", {x}, attrs);
}

std::string GraphBuilder::reshape(const std::string& x, const std::vector<int64_t>& dims) {
  return op("reshape", {x}, {{"dims", attr_ints(dims)}});
}

std::string GraphBuilder::broadcast_to(const std::string& x, const std::vector<int64_t>& dims) {
  return op("broadcast_to", {x}, {{"dims", attr_ints(dims)}});
}

std::string GraphBuilder::cast(const std::string& x, DType dtype) {
  return op("cast", {x}, {{"dtype", attr_dtype(dtype)}});
}

}  // namespace dlc
