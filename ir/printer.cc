#include "ir/printer.h"

#include <charconv>

namespace dlc {
namespace {

/// Inline data longer than this prints its head and a count.
constexpr int kMaxDataShown = 8;

std::string type_or_unknown(const Graph& g, const std::string& value) {
  auto it = g.types.find(value);
  return it == g.types.end() ? "?" : it->second.str();
}

const char* role_name(proto::InputRole role) {
  switch (role) {
    case proto::LABEL: return "label";
    case proto::LEARNING_RATE: return "learning_rate";
    case proto::STEP: return "step";
    default: return "data";
  }
}

std::string join_values(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", %" : "%") + names[i];
  return s;
}

std::string print_attrs(const Attrs& attrs) {
  if (attrs.empty()) return "";
  std::string s = " {";
  bool first = true;
  for (const auto& [key, value] : attrs) {  // std::map: sorted, deterministic
    s += (first ? "" : ", ") + key + "=" + print_attr_value(value);
    first = false;
  }
  return s + "}";
}

std::string print_node(const Graph& g, const Node& n) {
  std::string s = join_values(n.outputs) + " = " + n.op + "(" + join_values(n.inputs) + ")" + print_attrs(n.attrs);
  s += " : ";
  for (size_t i = 0; i < n.outputs.size(); ++i) s += (i ? ", " : "") + type_or_unknown(g, n.outputs[i]);
  // Node names only matter for messages; show them when they say something
  // the output name does not.
  if (!n.outputs.empty() && n.name != n.outputs[0]) s += "  # node '" + n.name + "'";
  return s;
}

}  // namespace

std::string print_optimizer(const proto::Optimizer& o) {
  std::string s = o.kind().empty() ? "(none)" : o.kind();
  std::vector<std::pair<const char*, double>> hp;
  if (o.has_learning_rate()) hp.emplace_back("learning_rate", o.learning_rate());
  if (o.has_momentum()) hp.emplace_back("momentum", o.momentum());
  if (o.has_beta1()) hp.emplace_back("beta1", o.beta1());
  if (o.has_beta2()) hp.emplace_back("beta2", o.beta2());
  if (o.has_epsilon()) hp.emplace_back("epsilon", o.epsilon());
  if (o.has_rho()) hp.emplace_back("rho", o.rho());
  if (o.has_weight_decay()) hp.emplace_back("weight_decay", o.weight_decay());
  for (size_t i = 0; i < hp.size(); ++i)
    s += std::string(i ? ", " : " {") + hp[i].first + "=" + format_number(hp[i].second);
  return hp.empty() ? s : s + "}";
}

std::string print_regularizer(const proto::Regularizer& r) {
  std::string s = "regularize";
  if (r.l1() != 0) s += " l1=" + format_number(r.l1());
  if (r.l2() != 0) s += " l2=" + format_number(r.l2());
  if (r.params().empty()) return s + " on every trainable parameter";
  return s + " on " + join_values({r.params().begin(), r.params().end()});
}

std::string format_number(double v) {
  char buf[64];
  // `general`: like %g (0.0001, 1e-08) with the fewest digits that read back exactly.
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  return std::string(buf, res.ptr);
}

std::string print_attr_value(const proto::AttrValue& v) {
  switch (v.value_case()) {
    case proto::AttrValue::kI: return std::to_string(v.i());
    case proto::AttrValue::kF: {
      // Keep float attributes visibly floats: a mistyped `axis=1.0` should
      // not print like the integer it was meant to be.
      std::string s = format_number(v.f());
      return s.find_first_of(".eni") == std::string::npos ? s + ".0" : s;
    }
    case proto::AttrValue::kS: return "\"" + v.s() + "\"";
    case proto::AttrValue::kInts: {
      std::string s = "[";
      for (int i = 0; i < v.ints().values_size(); ++i) s += (i ? "," : "") + std::to_string(v.ints().values(i));
      return s + "]";
    }
    case proto::AttrValue::kFloats: {
      std::string s = "[";
      for (int i = 0; i < v.floats().values_size(); ++i) s += (i ? "," : "") + format_number(v.floats().values(i));
      return s + "]";
    }
    case proto::AttrValue::kDtype: return dtype_name(from_proto(v.dtype()));
    case proto::AttrValue::kB: return v.b() ? "true" : "false";
    case proto::AttrValue::VALUE_NOT_SET: break;
  }
  return "<unset>";
}

std::string print_initializer(const proto::Initializer& init) {
  switch (init.kind_case()) {
    case proto::Initializer::kZeros: return "zeros";
    case proto::Initializer::kConstant: return "constant(" + format_number(init.constant().value()) + ")";
    case proto::Initializer::kNormal:
      return "normal(mean=" + format_number(init.normal().mean()) + ", std=" + format_number(init.normal().std()) + ")";
    case proto::Initializer::kUniform:
      return "uniform(" + format_number(init.uniform().lo()) + ", " + format_number(init.uniform().hi()) + ")";
    case proto::Initializer::kXavier: return "xavier";
    case proto::Initializer::kHe: return "he";
    case proto::Initializer::kData: {
      const auto& values = init.data().values();
      std::string s = "data[";
      int shown = std::min(values.size(), kMaxDataShown);
      for (int i = 0; i < shown; ++i) s += (i ? ", " : "") + format_number(values[i]);
      if (values.size() > shown) s += ", ... (" + std::to_string(values.size()) + " values)";
      return s + "]";
    }
    case proto::Initializer::KIND_NOT_SET: break;
  }
  return "none";
}

std::string print_graph(const Graph& g) {
  std::string s;
  for (const auto& i : g.inputs) {
    s += "input %" + i.name + " : " + i.type.str();
    if (i.role != proto::DATA) s += std::string(" (") + role_name(i.role) + ")";
    s += "\n";
  }
  for (const auto& p : g.params) {
    s += "param %" + p.name + " : " + p.type.str() + " = " + print_initializer(p.init);
    if (p.frozen) s += " (frozen)";
    s += "\n";
  }
  for (const auto& n : g.nodes) s += print_node(g, n) + "\n";
  for (const auto& o : g.outputs) s += "output %" + o + " : " + type_or_unknown(g, o) + "\n";
  return s;
}

std::string print_model(const Model& m) {
  std::string s = print_graph(m.graph);
  if (!m.has_training()) return s;
  s += "training loss=%" + m.training.loss() + " optimizer=" + print_optimizer(m.training.optimizer()) + "\n";
  for (const auto& r : m.training.regularization()) s += print_regularizer(r) + "\n";
  for (const auto& [param, grad] : m.gradients) s += "gradient %" + param + " = %" + grad + "\n";
  for (const auto& [param, value] : m.updates) s += "update %" + param + " := %" + value + "\n";
  return s;
}

}  // namespace dlc
