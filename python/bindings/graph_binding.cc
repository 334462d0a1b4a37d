// dlc._native.GraphBuilder: a model under construction, for dlc.Graph.
// Every op goes through the C++ GraphBuilder, so its output types are
// inferred by the op registry as the Python program runs, and a wrong shape
// is an error at the line that made it. Attribute values are converted by
// the op's attribute schema, so Python's 1 and 1.0 both fit a float.
#include <google/protobuf/text_format.h>

#include <memory>
#include <string>
#include <vector>

#include "frontend/model_loader.h"
#include "ir/builder.h"
#include "ir/error.h"
#include "ir/op_registry.h"
#include "ir/verifier.h"
#include "python/bindings/bindings.h"
#include <pybind11/stl.h>

namespace dlc::python {
namespace {

DType parse_dtype(const std::string& name) {
  if (name == "f32" || name == "float32") return DType::f32;
  if (name == "f64" || name == "float64") return DType::f64;
  if (name == "i32" || name == "int32") return DType::i32;
  if (name == "i64" || name == "int64") return DType::i64;
  if (name == "bool") return DType::boolean;
  throw Error("unknown dtype '" + name + "' (dlc has f32, f64, i32, i64 and bool)");
}

proto::InputRole parse_role(const std::string& name) {
  proto::InputRole role;
  if (!proto::InputRole_Parse(name, &role))
    throw Error("unknown input role '" + name + "' (DATA, LABEL, LEARNING_RATE or STEP)");
  return role;
}

template <typename Message>
Message parse_message(const std::string& text, const char* what) {
  Message msg;
  if (!google::protobuf::TextFormat::ParseFromString(text, &msg)) throw Error("cannot read the " + std::string(what) + " '" + text + "'");
  return msg;
}

/// One attribute value from Python, as the op's schema wants it.
proto::AttrValue to_attr(const std::string& op, const AttrSpec& spec, const py::handle& v) {
  auto fail = [&](const char* want) -> proto::AttrValue {
    throw Error(op + ": attribute '" + spec.name + "' takes " + want + ", not " +
                py::repr(v).cast<std::string>());
  };
  try {
    switch (spec.kind) {
      case AttrKind::i:
        if (py::isinstance<py::bool_>(v) || !py::isinstance<py::int_>(v)) return fail("an integer");
        return attr_i(v.cast<int64_t>());
      case AttrKind::f:
        if (py::isinstance<py::bool_>(v)) return fail("a number");
        return attr_f(v.cast<double>());
      case AttrKind::b:
        if (!py::isinstance<py::bool_>(v)) return fail("True or False");
        return attr_b(v.cast<bool>());
      case AttrKind::s:
        if (!py::isinstance<py::str>(v)) return fail("a string");
        return attr_s(v.cast<std::string>());
      case AttrKind::dtype: {
        proto::AttrValue a;
        a.set_dtype(to_proto(parse_dtype(py::str(v).cast<std::string>())));
        return a;
      }
      case AttrKind::ints: {
        if (py::isinstance<py::int_>(v)) return attr_ints({v.cast<int64_t>()});
        return attr_ints(v.cast<std::vector<int64_t>>());
      }
      case AttrKind::floats: {
        proto::AttrValue a;
        for (double x : v.cast<std::vector<double>>()) a.mutable_floats()->add_values(x);
        return a;
      }
    }
  } catch (const py::cast_error&) {
  }
  const char* want[] = {"an integer", "a number", "a string", "a list of integers", "a dtype", "True or False",
                        "a list of numbers"};
  return fail(want[static_cast<int>(spec.kind)]);
}

class PyGraph {
 public:
  PyGraph() : model_(std::make_unique<Model>()), b_(model_->graph) {}
  explicit PyGraph(Model m) : model_(std::make_unique<Model>(std::move(m))), b_(model_->graph) {
    verify_or_throw(*model_);  // types every value, so the model can be extended
  }

  std::string input(const std::string& name, const std::vector<int64_t>& dims, const std::string& dtype,
                    const std::string& role) {
    check_new(name);
    return b_.input(name, TensorType{parse_dtype(dtype), dims}, parse_role(role));
  }
  std::string param(const std::string& name, const std::vector<int64_t>& dims, const std::string& dtype,
                    const std::string& init, bool frozen) {
    check_new(name);
    return b_.param(name, TensorType{parse_dtype(dtype), dims}, parse_message<proto::Initializer>(init, "initializer"),
                    frozen);
  }
  std::vector<std::string> op(const std::string& op, const std::vector<std::string>& inputs, const py::dict& attrs,
                               const std::vector<std::string>& names) {
    const OpDef* def = find_op(op);
    if (!def) throw Error("unknown op '" + op + "' (dlc.ops.names() lists them)");
    for (const std::string& n : names)
      if (!n.empty()) check_new(n);
    Attrs converted;
    for (const auto& [key, value] : attrs) {
      std::string k = key.cast<std::string>();
      const AttrSpec* spec = nullptr;
      for (const AttrSpec& s : def->attrs)
        if (s.name == k) spec = &s;
      if (!spec) {
        std::string known;
        for (const AttrSpec& s : def->attrs) known += (known.empty() ? "" : ", ") + s.name;
        throw Error(op + " has no attribute '" + k + "' (it has: " + (known.empty() ? "none" : known) + ")");
      }
      converted[k] = to_attr(op, *spec, value);
    }
    std::vector<std::string> out_names = names;
    if (!out_names.empty() && out_names.size() != static_cast<size_t>(def->num_outputs))
      throw Error(op + " has " + std::to_string(def->num_outputs) + " outputs, but " +
                  std::to_string(out_names.size()) + " names were given");
    for (size_t i = 0; i < out_names.size(); ++i)
      if (out_names[i].empty()) out_names[i] = model_->graph.fresh_name(op);
    return b_.emit(op, inputs, converted, out_names);
  }
  void output(const std::string& value) {
    type(value);
    for (const auto& o : model_->graph.outputs)
      if (o == value) return;
    b_.output(value);
  }
  /// Gives the value `from` the name `to`: the node that computes it and
  /// every use. Inputs and parameters keep theirs.
  void rename(const std::string& from, const std::string& to) {
    if (from == to) return;
    check_new(to);
    Graph& g = model_->graph;
    bool produced = false;
    for (Node& n : g.nodes)
      for (std::string& o : n.outputs)
        if (o == from) {
          o = to;
          if (n.name == from) n.name = to;
          produced = true;
        }
    if (!produced) throw Error("'" + from + "' is a graph input or parameter; it keeps its name");
    for (Node& n : g.nodes)
      for (std::string& i : n.inputs)
        if (i == from) i = to;
    for (std::string& o : g.outputs)
      if (o == from) o = to;
    if (model_->training.loss() == from) model_->training.set_loss(to);
    g.types[to] = g.types.at(from);
    g.types.erase(from);
  }
  py::tuple type(const std::string& value) const {
    auto it = model_->graph.types.find(value);
    if (it == model_->graph.types.end()) throw Error("the graph has no value '" + value + "'");
    return py::make_tuple(std::string(dtype_name(it->second.dtype)), it->second.dims);
  }
  bool has(const std::string& value) const { return model_->graph.types.count(value) > 0; }
  void set_training(const std::string& text) {
    model_->training = parse_message<proto::Training>(text, "training section");
  }
  std::string to_text() const { return model_text(*model_); }
  std::vector<std::string> outputs() const { return model_->graph.outputs; }
  const Model& model() const { return *model_; }

 private:
  void check_new(const std::string& name) const {
    if (name.empty()) throw Error("a value needs a name");
    if (model_->graph.types.count(name)) throw Error("the graph already has a value named '" + name + "'");
  }

  std::unique_ptr<Model> model_;  // GraphBuilder keeps a reference into it
  GraphBuilder b_;
};

}  // namespace

const Model& model_of(const py::object& graph) { return graph.cast<const PyGraph&>().model(); }
py::object graph_object(Model m) { return py::cast(std::make_unique<PyGraph>(std::move(m))); }

void bind_graph(py::module_& m) {
  py::class_<PyGraph>(m, "GraphBuilder")
      .def(py::init<>())
      .def_static("parse", [](const std::string& text, const std::string& source) {
        return std::make_unique<PyGraph>(parse_model_text(text, source));
      })
      .def_static("load", [](const std::string& path) { return std::make_unique<PyGraph>(load_model(path)); })
      .def("input", &PyGraph::input)
      .def("param", &PyGraph::param)
      .def("op", &PyGraph::op)
      .def("output", &PyGraph::output)
      .def("rename", &PyGraph::rename)
      .def("type", &PyGraph::type)
      .def("has", &PyGraph::has)
      .def("outputs", &PyGraph::outputs)
      .def("set_training", &PyGraph::set_training)
      .def("to_text", &PyGraph::to_text);
  m.def("op_names", [] {
    std::vector<std::string> names;
    for (const auto& [name, def] : OpRegistry::get().all()) names.push_back(name);
    return names;
  });
  m.def("op_info", [](const std::string& name) {
    const OpDef* def = find_op(name);
    if (!def) throw Error("unknown op '" + name + "'");
    std::vector<std::pair<std::string, bool>> attrs;
    for (const AttrSpec& a : def->attrs) attrs.emplace_back(a.name, a.required);
    return py::make_tuple(def->min_inputs, def->max_inputs, def->num_outputs, attrs, def->doc);
  });
}

}  // namespace dlc::python
