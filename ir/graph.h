// The in-memory graph IR: named SSA values, nodes, inputs, parameters.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ir/dlc.pb.h"
#include "ir/types.h"

namespace dlc {

using Attrs = std::map<std::string, proto::AttrValue>;

struct Node {
  std::string name;  // for messages; the first output's name when unnamed
  std::string op;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  Attrs attrs;
  int line = 0;  // source line in the model file, 0 when unknown
  /// Set on the primitives a composite expanded into: its name and op, so
  /// messages name the node the user wrote.
  std::string expanded_from, expanded_from_op;

  bool has_attr(const std::string& key) const { return attrs.count(key) != 0; }
  /// Typed accessors; the verifier has checked presence and kind already.
  int64_t attr_int(const std::string& key, int64_t fallback = 0) const;
  double attr_float(const std::string& key, double fallback = 0) const;
  bool attr_bool(const std::string& key, bool fallback = false) const;
  std::string attr_str(const std::string& key, const std::string& fallback = "") const;
  std::vector<int64_t> attr_ints(const std::string& key) const;
  DType attr_dtype(const std::string& key, DType fallback = DType::f32) const;
};

struct Input {
  std::string name;
  TensorType type;
  proto::InputRole role = proto::DATA;
  int line = 0;
};

struct Parameter {
  std::string name;
  TensorType type;
  proto::Initializer init;
  bool frozen = false;  // optimizer state: persistent, not trained
  int line = 0;
  bool optimizer_state = false;  // the optimizer's own state, not the model's (dlc.proto)
};

/// A graph: the unit every pass and executor works on.
struct Graph {
  std::vector<Input> inputs;
  std::vector<Parameter> params;
  std::vector<Node> nodes;
  std::vector<std::string> outputs;
  /// Types of every value, filled by shape inference.
  std::map<std::string, TensorType> types;

  const Input* find_input(const std::string& name) const;
  const Parameter* find_param(const std::string& name) const;
  /// The type of a value; the graph must have been shape-inferred.
  const TensorType& type_of(const std::string& value) const;
  /// A fresh value name starting with `prefix` that no value uses yet.
  std::string fresh_name(const std::string& prefix);
  /// Starts fresh names from 0 again: the names a compilation invents then
  /// depend on the graph alone, not on how it was built (by hand, from
  /// text, by an importer), so the same graph compiles to the same bytes.
  void restart_fresh_names();

 private:
  int next_fresh_ = 0;
  /// Outputs of nodes[0, outputs_scanned_) when fresh_name last looked: a
  /// scan of every node per name made autodiff quadratic. Names of nodes
  /// removed since only make it skip a name; nodes appended since are
  /// scanned on the next call (nodes built by GraphBuilder are also typed).
  std::set<std::string> node_outputs_;
  size_t outputs_scanned_ = 0;
};

/// A model: graph plus training section, and the file it came from.
struct Model {
  Graph graph;
  proto::Training training;
  std::string source;  // file name, for messages
  /// Filled by autodiff: trainable parameter -> value holding d(loss)/d(param).
  std::map<std::string, std::string> gradients;
  /// Filled by optimizer lowering: persistent parameter := value, applied
  /// after each train step (parameters and optimizer state).
  std::vector<std::pair<std::string, std::string>> updates;
  bool has_training() const { return !training.loss().empty(); }
};

Graph graph_from_proto(const proto::Graph& g);
proto::Graph graph_to_proto(const Graph& g);
Model model_from_proto(const proto::Model& m);
proto::Model model_to_proto(const Model& m);

/// Attribute constructors, for builders and passes.
proto::AttrValue attr_i(int64_t v);
proto::AttrValue attr_f(double v);
proto::AttrValue attr_b(bool v);
proto::AttrValue attr_s(const std::string& v);
proto::AttrValue attr_ints(const std::vector<int64_t>& v);
proto::AttrValue attr_dtype(DType v);

}  // namespace dlc
