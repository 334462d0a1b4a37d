// What the ONNX importer's parts share: the tensors of the file, values
// known at import time (shape chains, constants), and the graph being built.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/builder.h"
#include "ir/graph.h"
#include "onnx/onnx.pb.h"

namespace dlc::onnx_import {

/// A tensor whose value the importer knows: an initializer that is not a
/// parameter, a Constant, or a shape computed from types. `batch[i]` marks
/// element i as the symbolic batch size (from Shape of a batched value).
struct Known {
  DType dtype = DType::f32;
  std::vector<int64_t> dims;
  std::vector<double> values;
  std::vector<bool> batch;  // same length as values

  int64_t numel() const { return static_cast<int64_t>(values.size()); }
  bool has_batch() const;
  /// The values as integers (shape operands); throws naming `what` when one
  /// is the symbolic batch (unless allowed) or not whole.
  std::vector<int64_t> ints(const std::string& what) const;
};

/// The decoded value of an ONNX TensorProto (raw_data, typed fields, or an
/// external data file next to the model). Throws naming `what`.
Known decode_tensor(const onnx::TensorProto& t, const std::string& model_dir, const std::string& what);

class Importer {
 public:
  Importer(Model& m, std::string source, int64_t opset) : m_(m), b_(m.graph), source_(std::move(source)), opset_(opset) {}

  Model& model() { return m_; }
  GraphBuilder& builder() { return b_; }
  int64_t opset() const { return opset_; }
  const std::string& source() const { return source_; }

  /// The batch size a static export baked into the data inputs (0: none).
  int64_t export_batch = 0;

  bool is_known(const std::string& onnx_name) const { return known_.count(onnx_name) > 0; }
  /// Known and not (yet) a graph value: an operand to fold.
  bool folded(const std::string& onnx_name) const { return is_known(onnx_name) && !has_value(onnx_name); }
  const Known& known(const std::string& onnx_name) const;
  void set_known(const std::string& onnx_name, Known k) { known_[onnx_name] = std::move(k); }
  /// The graph value of an ONNX value; a known one becomes a constant node
  /// (once). Throws naming the node when it is neither.
  std::string value(const std::string& onnx_name);
  void set_value(const std::string& onnx_name, const std::string& dlc_name) { values_[onnx_name] = dlc_name; }
  bool has_value(const std::string& onnx_name) const { return values_.count(onnx_name) > 0; }
  const TensorType& type(const std::string& onnx_name) { return m_.graph.type_of(value(onnx_name)); }

  /// "node 'NAME' (OP)" for errors.
  std::string where(const onnx::NodeProto& n) const;

 private:
  Model& m_;
  GraphBuilder b_;
  std::string source_;
  int64_t opset_;
  std::map<std::string, Known> known_;
  std::map<std::string, std::string> values_;
};

/// Converts one node; throws dlc::Error naming it when it cannot.
using OpConverter = void (*)(Importer& im, const onnx::NodeProto& n);

/// The converter for an ONNX op type, or nullptr when it is not supported.
OpConverter find_converter(const std::string& op_type);

/// An attribute of `n`, or nullptr.
const onnx::AttributeProto* attribute(const onnx::NodeProto& n, const std::string& name);
int64_t node_int(const onnx::NodeProto& n, const std::string& name, int64_t fallback);
double node_float(const onnx::NodeProto& n, const std::string& name, double fallback);
std::vector<int64_t> node_ints(const onnx::NodeProto& n, const std::string& name);
std::string node_string(const onnx::NodeProto& n, const std::string& name, const std::string& fallback);

}  // namespace dlc::onnx_import
