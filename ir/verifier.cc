#include "ir/verifier.h"

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "ir/error.h"
#include "ir/label_dependence.h"
#include "ir/printer.h"
#include "ir/size_limits.h"

namespace dlc {
namespace {

const char* attr_kind_name(AttrKind k) {
  switch (k) {
    case AttrKind::i: return "int";
    case AttrKind::f: return "float";
    case AttrKind::s: return "string";
    case AttrKind::ints: return "int list";
    case AttrKind::dtype: return "dtype";
    case AttrKind::b: return "bool";
    case AttrKind::floats: return "float list";
  }
  return "?";
}

bool attr_matches(const proto::AttrValue& v, AttrKind k) {
  switch (k) {
    case AttrKind::i: return v.value_case() == proto::AttrValue::kI;
    // An integer literal is accepted where a float is expected.
    case AttrKind::f: return v.value_case() == proto::AttrValue::kF || v.value_case() == proto::AttrValue::kI;
    case AttrKind::s: return v.value_case() == proto::AttrValue::kS;
    case AttrKind::ints: return v.value_case() == proto::AttrValue::kInts;
    case AttrKind::dtype: return v.value_case() == proto::AttrValue::kDtype;
    case AttrKind::b: return v.value_case() == proto::AttrValue::kB;
    case AttrKind::floats: return v.value_case() == proto::AttrValue::kFloats;
  }
  return false;
}

std::string where(const std::string& source, int line) {
  std::string s = source.empty() ? "" : source;
  if (line > 0) s += (s.empty() ? "line " : ":") + std::to_string(line);
  return s.empty() ? "" : s + ": ";
}

std::string node_prefix(const std::string& source, const Node& n) {
  return where(source, n.line) + "node '" + n.name + "' (" + n.op + "): ";
}

/// Element counts above this are certainly a typo, and counting them could
/// overflow int64 further down (memory planning, initializers).
constexpr int64_t kMaxElements = int64_t{1} << 40;

/// Checks a declared input or parameter type: every dimension positive or
/// the batch dimension, and a sane element count. "" when it is fine.
std::string check_declared_type(const TensorType& t) {
  int64_t elements = 1;
  for (size_t i = 0; i < t.dims.size(); ++i) {
    int64_t d = t.dims[i];
    if (d == kBatch) continue;
    if (d <= 0)
      return "dimension " + std::to_string(i) + " is " + std::to_string(d) +
             "; dimensions must be positive, or -1 for the batch dimension";
    if (elements > kMaxElements / d) return "has more than 2^40 elements";
    elements *= d;
  }
  return "";
}

/// An initializer's numbers: finite (a NaN or infinite weight would train
/// into NaN and the learning rate would get the blame), std >= 0, lo <= hi,
/// and inline data that fills the type exactly. "" when it is fine.
std::string check_initializer(const Parameter& p) {
  // An f32 parameter is rounded to float32, where 1e300 becomes inf.
  const double limit = p.type.dtype == DType::f32 ? std::numeric_limits<float>::max() : std::numeric_limits<double>::max();
  const std::string finite_number = p.type.dtype == DType::f32 ? "a finite f32 number" : "a finite number";
  auto finite = [&](const std::string& what, double v) -> std::string {
    return std::fabs(v) <= limit ? "" : what + " must be " + finite_number + ", got " + format_number(v);
  };
  const proto::Initializer& init = p.init;
  switch (init.kind_case()) {
    case proto::Initializer::kConstant: return finite("constant initializer's value", init.constant().value());
    case proto::Initializer::kNormal: {
      if (std::string e = finite("normal initializer's mean", init.normal().mean()); !e.empty()) return e;
      double std = init.normal().std();
      if (!(std::fabs(std) <= limit && std >= 0))
        return "normal initializer's std must be " + finite_number + " >= 0, got " + format_number(std);
      return "";
    }
    case proto::Initializer::kUniform: {
      double lo = init.uniform().lo(), hi = init.uniform().hi();
      if (std::string e = finite("uniform initializer's lo", lo); !e.empty()) return e;
      if (std::string e = finite("uniform initializer's hi", hi); !e.empty()) return e;
      if (lo > hi) return "uniform initializer has lo " + format_number(lo) + " > hi " + format_number(hi);
      return "";
    }
    case proto::Initializer::kData: {
      int64_t want = p.type.numel();
      int64_t got = init.data().values_size();
      if (got != want)
        return "data initializer has " + std::to_string(got) + " value(s), but " + p.type.str() + " needs " +
               std::to_string(want);
      for (int i = 0; i < got; ++i)
        if (std::string e = finite("data initializer's value " + std::to_string(i), init.data().values(i)); !e.empty())
          return e;
      return "";
    }
    default: return "";
  }
}

/// "" when a value of type `t` fits the memory limit even at the smallest
/// batch (1 while unbound: the verifier runs before and after bind_batch,
/// so a bound graph is checked at its real batch), else the fault.
std::string check_value_size(const TensorType& t) {
  std::string fault = size_fault(type_bytes(t));
  if (fault.empty()) return "";
  return t.str() + (t.has_batch() ? " at batch 1" : "") + " takes " + fault;
}

}  // namespace

std::string check_attrs(const Node& n, const OpDef& def) {
  for (const auto& spec : def.attrs) {
    auto it = n.attrs.find(spec.name);
    if (it == n.attrs.end()) {
      if (spec.required) return "missing attribute '" + spec.name + "' (" + attr_kind_name(spec.kind) + ")";
      continue;
    }
    if (!attr_matches(it->second, spec.kind))
      return "attribute '" + spec.name + "' must be " + attr_kind_name(spec.kind);
  }
  for (const auto& [key, value] : n.attrs) {
    bool known = false;
    for (const auto& spec : def.attrs) known = known || spec.name == key;
    if (!known) return "unknown attribute '" + key + "'";
  }
  return "";
}

const std::vector<std::string>& known_optimizers() {
  static const std::vector<std::string> kinds = {"sgd",     "momentum", "nesterov", "adagrad",
                                                 "rmsprop", "adadelta", "adam",     "adamw"};
  return kinds;
}

std::vector<std::string> verify_graph(Graph& g, const std::string& source) {
  std::vector<std::string> errors;
  g.types.clear();

  // Definitions: inputs, parameters, node outputs; each name once.
  std::map<std::string, int> producer;  // value -> node index, -1 for inputs and params
  auto define = [&](const std::string& name, const std::string& what, int line) {
    if (name.empty()) {
      errors.push_back(where(source, line) + what + " has an empty name");
      return false;
    }
    if (producer.count(name)) {
      errors.push_back(where(source, line) + what + " defines '" + name + "', which is already defined");
      return false;
    }
    return true;
  };
  for (const auto& i : g.inputs)
    if (define(i.name, "input '" + i.name + "'", i.line)) {
      producer[i.name] = -1;
      g.types[i.name] = i.type;
      std::string bad = check_declared_type(i.type);
      if (!bad.empty()) errors.push_back(where(source, i.line) + "input '" + i.name + "' " + i.type.str() + ": " + bad);
      else if (std::string big = check_value_size(i.type); !big.empty())
        errors.push_back(where(source, i.line) + "input '" + i.name + "' " + big);
    }
  for (const auto& p : g.params)
    if (define(p.name, "parameter '" + p.name + "'", p.line)) {
      producer[p.name] = -1;
      g.types[p.name] = p.type;
      std::string bad = check_declared_type(p.type);
      if (p.type.has_batch())
        errors.push_back(where(source, p.line) + "parameter '" + p.name + "' cannot have the batch dimension");
      else if (!bad.empty())
        errors.push_back(where(source, p.line) + "parameter '" + p.name + "' " + p.type.str() + ": " + bad);
      else if (std::string big = check_value_size(p.type); !big.empty())
        errors.push_back(where(source, p.line) + "parameter '" + p.name + "' " + big);
      else if (std::string init = check_initializer(p); !init.empty())
        errors.push_back(where(source, p.line) + "parameter '" + p.name + "': " + init);
    }
  for (size_t k = 0; k < g.nodes.size(); ++k)
    for (const auto& o : g.nodes[k].outputs)
      if (define(o, "node '" + g.nodes[k].name + "' (" + g.nodes[k].op + ")", g.nodes[k].line))
        producer[o] = static_cast<int>(k);

  // Topological order (Kahn); what is left over lies on a cycle.
  const size_t n = g.nodes.size();
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> users(n);
  for (size_t k = 0; k < n; ++k) {
    std::set<int> deps;
    for (const auto& in : g.nodes[k].inputs) {
      auto it = producer.find(in);
      if (it == producer.end()) {
        errors.push_back(node_prefix(source, g.nodes[k]) + "input '" + in + "' is not defined");
      } else if (it->second >= 0 && deps.insert(it->second).second) {
        users[it->second].push_back(static_cast<int>(k));
      }
    }
    pending[k] = static_cast<int>(deps.size());
  }
  std::vector<int> order;
  for (size_t k = 0; k < n; ++k)
    if (pending[k] == 0) order.push_back(static_cast<int>(k));
  for (size_t head = 0; head < order.size(); ++head)
    for (int u : users[order[head]])
      if (--pending[u] == 0) order.push_back(u);
  if (order.size() != n) {
    for (size_t k = 0; k < n; ++k)
      if (pending[k] > 0) {
        errors.push_back(node_prefix(source, g.nodes[k]) + "is part of a cycle");
        break;
      }
    return errors;
  }
  std::vector<Node> sorted;
  for (int k : order) sorted.push_back(std::move(g.nodes[k]));
  g.nodes = std::move(sorted);

  // Per node: op, arity, attributes, then shape and dtype rules.
  for (auto& node : g.nodes) {
    const OpDef* def = find_op(node.op);
    std::string prefix = node_prefix(source, node);
    if (!def) {
      errors.push_back(prefix + "unknown op '" + node.op + "'");
      continue;
    }
    int arity = static_cast<int>(node.inputs.size());
    if (arity < def->min_inputs || arity > def->max_inputs) {
      std::string want = def->min_inputs == def->max_inputs
                             ? std::to_string(def->min_inputs)
                             : std::to_string(def->min_inputs) + " to " + std::to_string(def->max_inputs);
      errors.push_back(prefix + "takes " + want + " input(s), got " + std::to_string(arity));
      continue;
    }
    if (static_cast<int>(node.outputs.size()) != def->num_outputs) {
      errors.push_back(prefix + "has " + std::to_string(def->num_outputs) + " output(s), got " +
                       std::to_string(node.outputs.size()));
      continue;
    }
    std::string err = check_attrs(node, *def);
    if (!err.empty()) {
      errors.push_back(prefix + err);
      continue;
    }
    std::vector<TensorType> in_types;
    bool inputs_known = true;
    for (const auto& in : node.inputs) {
      auto it = g.types.find(in);
      if (it == g.types.end()) inputs_known = false;  // already reported upstream
      else in_types.push_back(it->second);
    }
    if (!inputs_known) continue;
    std::vector<TensorType> out_types;
    err = def->infer(node, in_types, &out_types);
    if (!err.empty()) {
      errors.push_back(prefix + err);
      continue;
    }
    // Only where a size first goes over the limit: what follows from an
    // oversized value would repeat the same fault.
    bool input_oversized = false;
    for (const auto& t : in_types) input_oversized = input_oversized || !check_value_size(t).empty();
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      g.types[node.outputs[i]] = out_types.at(i);
      if (std::string big = check_value_size(out_types.at(i)); !big.empty() && !input_oversized)
        errors.push_back(prefix + "output '" + node.outputs[i] + "' " + big);
    }
  }

  for (const auto& o : g.outputs)
    if (!producer.count(o)) errors.push_back(where(source, 0) + "graph output '" + o + "' is not defined");
  return errors;
}

std::vector<std::string> verify_model(Model& m) {
  std::vector<std::string> errors = verify_graph(m.graph, m.source);
  if (!m.has_training()) {
    // predict takes no labels (compiler/lower_to_kernels.h entry_specs), so
    // without a train_step nothing could compute such an output.
    if (errors.empty())
      for (const auto& o : m.graph.outputs) {
        std::vector<std::string> labels = label_inputs_needed(m.graph, o);
        if (!labels.empty())
          errors.push_back(where(m.source, 0) + "graph output '" + o + "' " + describe_label_need(labels) +
                           ": only train_step computes such outputs, and the model has no training section");
      }
    return errors;
  }
  std::string prefix = m.source.empty() ? "training: " : m.source + ": training: ";
  const std::string& loss = m.training.loss();
  auto it = m.graph.types.find(loss);
  if (it == m.graph.types.end()) {
    if (errors.empty()) errors.push_back(prefix + "loss '" + loss + "' is not a value of the graph");
  } else if (it->second.rank() != 0 || !is_float(it->second.dtype)) {
    errors.push_back(prefix + "loss '" + loss + "' must be a float scalar, got " + it->second.str());
  }
  const std::string& kind = m.training.optimizer().kind();
  bool known = false;
  for (const auto& k : known_optimizers()) known = known || k == kind;
  if (!known) errors.push_back(prefix + "unknown optimizer kind '" + kind + "'");
  for (const auto& reg : m.training.regularization())
    for (const auto& p : reg.params())
      if (!m.graph.find_param(p)) errors.push_back(prefix + "regularized parameter '" + p + "' does not exist");
  return errors;
}

namespace {
void throw_if_any(const std::vector<std::string>& errors) {
  if (errors.empty()) return;
  std::string all;
  for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
  throw Error(all);
}
}  // namespace

void verify_or_throw(Model& m) { throw_if_any(verify_model(m)); }
void verify_or_throw(Graph& g, const std::string& source) { throw_if_any(verify_graph(g, source)); }

}  // namespace dlc
