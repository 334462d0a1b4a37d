// Helpers for the op test suites: one node over graph inputs, its inferred
// type, its shape error, and its reference values.
#pragma once

#include <string>
#include <vector>

#include "ir/builder.h"
#include "ir/error.h"
#include "reference/ref_interpreter.h"

namespace dlc::test {

/// A float-list attribute (graph.h has no constructor for it).
inline proto::AttrValue attr_floats(const std::vector<double>& v) {
  proto::AttrValue a;
  for (double x : v) a.mutable_floats()->add_values(x);
  return a;
}

/// The type `op` infers for inputs of `types`; throws dlc::Error like the builder.
inline TensorType infer_type(const std::string& op, const std::vector<TensorType>& types, const Attrs& attrs = {}) {
  Graph g;
  GraphBuilder b(g);
  std::vector<std::string> ins;
  for (size_t i = 0; i < types.size(); ++i) ins.push_back(b.input("x" + std::to_string(i), types[i]));
  return g.type_of(b.op(op, ins, attrs, "node"));
}

/// The error text of emitting `op` on `types` as node 'bad'; "" when it fits.
inline std::string shape_error(const std::string& op, const std::vector<TensorType>& types, const Attrs& attrs = {}) {
  Graph g;
  GraphBuilder b(g);
  std::vector<std::string> ins;
  for (size_t i = 0; i < types.size(); ++i) ins.push_back(b.input("x" + std::to_string(i), types[i]));
  try {
    b.op(op, ins, attrs, "bad");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

/// Runs one `op` node on `inputs` through the reference interpreter.
inline Tensor run_op(const std::string& op, const std::vector<Tensor>& inputs, const Attrs& attrs = {},
                     const std::string& node_name = "node") {
  Graph g;
  GraphBuilder b(g);
  std::vector<std::string> ins;
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string name = "x" + std::to_string(i);
    ins.push_back(b.input(name, inputs[i].type));
    feeds[name] = inputs[i];
  }
  std::string y = b.op(op, ins, attrs, node_name);
  return RefInterpreter(g).run(feeds, {y}).at(y);
}

inline Tensor tensor(const std::vector<int64_t>& dims, std::vector<double> values, DType dtype = DType::f32) {
  return Tensor(TensorType{dtype, dims}, std::move(values));
}

/// True when `text` contains every one of `parts`.
inline bool contains_all(const std::string& text, const std::vector<std::string>& parts) {
  for (const auto& p : parts)
    if (text.find(p) == std::string::npos) return false;
  return true;
}

}  // namespace dlc::test
