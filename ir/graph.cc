#include "ir/graph.h"

#include <stdexcept>

namespace dlc {

int64_t Node::attr_int(const std::string& key, int64_t fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.i();
}

double Node::attr_float(const std::string& key, double fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  // Integer literals are accepted where a float is expected.
  return it->second.value_case() == proto::AttrValue::kI ? static_cast<double>(it->second.i())
                                                         : it->second.f();
}

bool Node::attr_bool(const std::string& key, bool fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.b();
}

std::string Node::attr_str(const std::string& key, const std::string& fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.s();
}

std::vector<int64_t> Node::attr_ints(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return {};
  const auto& v = it->second.ints().values();
  return {v.begin(), v.end()};
}

DType Node::attr_dtype(const std::string& key, DType fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : from_proto(it->second.dtype());
}

const Input* Graph::find_input(const std::string& name) const {
  for (const auto& i : inputs)
    if (i.name == name) return &i;
  return nullptr;
}

const Parameter* Graph::find_param(const std::string& name) const {
  for (const auto& p : params)
    if (p.name == name) return &p;
  return nullptr;
}

const TensorType& Graph::type_of(const std::string& value) const {
  auto it = types.find(value);
  if (it == types.end()) throw std::logic_error("no type known for value '" + value + "'");
  return it->second;
}

std::string Graph::fresh_name(const std::string& prefix) {
  if (outputs_scanned_ > nodes.size()) {  // nodes were removed: start over
    node_outputs_.clear();
    outputs_scanned_ = 0;
  }
  for (; outputs_scanned_ < nodes.size(); ++outputs_scanned_)
    node_outputs_.insert(nodes[outputs_scanned_].outputs.begin(), nodes[outputs_scanned_].outputs.end());
  for (;;) {
    std::string n = prefix + "." + std::to_string(next_fresh_++);
    if (types.count(n)) continue;
    bool used = find_input(n) || find_param(n) || node_outputs_.count(n);
    if (!used) {
      // Reserve the name so the next call cannot return it before inference runs.
      types[n] = TensorType{};
      return n;
    }
  }
}

void Graph::restart_fresh_names() {
  next_fresh_ = 0;
  node_outputs_.clear();
  outputs_scanned_ = 0;
}

Graph graph_from_proto(const proto::Graph& g) {
  Graph r;
  for (const auto& i : g.inputs()) r.inputs.push_back({i.name(), from_proto(i.type()), i.role(), 0});
  for (const auto& p : g.params())
    r.params.push_back({p.name(), from_proto(p.type()), p.init(), p.frozen(), 0, p.optimizer_state()});
  for (const auto& n : g.nodes()) {
    Node node;
    node.op = n.op();
    node.inputs.assign(n.inputs().begin(), n.inputs().end());
    node.outputs.assign(n.outputs().begin(), n.outputs().end());
    node.name = !n.name().empty() ? n.name() : (node.outputs.empty() ? n.op() : node.outputs[0]);
    for (const auto& [k, v] : n.attrs()) node.attrs[k] = v;
    r.nodes.push_back(std::move(node));
  }
  r.outputs.assign(g.outputs().begin(), g.outputs().end());
  return r;
}

proto::Graph graph_to_proto(const Graph& g) {
  proto::Graph r;
  for (const auto& i : g.inputs) {
    auto* p = r.add_inputs();
    p->set_name(i.name);
    *p->mutable_type() = to_proto(i.type);
    p->set_role(i.role);
  }
  for (const auto& p : g.params) {
    auto* q = r.add_params();
    q->set_name(p.name);
    *q->mutable_type() = to_proto(p.type);
    *q->mutable_init() = p.init;
    q->set_frozen(p.frozen);
    q->set_optimizer_state(p.optimizer_state);
  }
  for (const auto& n : g.nodes) {
    auto* q = r.add_nodes();
    if (n.outputs.empty() || n.name != n.outputs[0]) q->set_name(n.name);
    q->set_op(n.op);
    for (const auto& i : n.inputs) q->add_inputs(i);
    for (const auto& o : n.outputs) q->add_outputs(o);
    for (const auto& [k, v] : n.attrs) (*q->mutable_attrs())[k] = v;
  }
  for (const auto& o : g.outputs) r.add_outputs(o);
  return r;
}

Model model_from_proto(const proto::Model& m) {
  Model r;
  r.graph = graph_from_proto(m.graph());
  r.training = m.training();
  return r;
}

proto::Model model_to_proto(const Model& m) {
  proto::Model r;
  *r.mutable_graph() = graph_to_proto(m.graph);
  *r.mutable_training() = m.training;
  return r;
}

proto::AttrValue attr_i(int64_t v) { proto::AttrValue a; a.set_i(v); return a; }
proto::AttrValue attr_f(double v) { proto::AttrValue a; a.set_f(v); return a; }
proto::AttrValue attr_b(bool v) { proto::AttrValue a; a.set_b(v); return a; }
proto::AttrValue attr_s(const std::string& v) { proto::AttrValue a; a.set_s(v); return a; }
proto::AttrValue attr_ints(const std::vector<int64_t>& v) {
  proto::AttrValue a;
  a.mutable_ints();  // sets the kind even when v is empty (a scalar's dims)
  for (int64_t x : v) a.mutable_ints()->add_values(x);
  return a;
}
proto::AttrValue attr_dtype(DType v) { proto::AttrValue a; a.set_dtype(to_proto(v)); return a; }

}  // namespace dlc
