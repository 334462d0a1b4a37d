// The ONNX importer's driver: reads the model, checks versions, turns graph
// inputs, initializers and nodes into graph IR, and adds the training section.
#include "frontend/onnx/onnx_import.h"

#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <set>

#include "frontend/onnx/onnx_context.h"
#include "ir/error.h"
#include "ir/file_io.h"
#include "ir/verifier.h"

namespace dlc {
namespace onnx_import {
namespace {

constexpr int64_t kMaxIrVersion = 10;
constexpr int64_t kMinOpset = 13, kMaxOpset = 20;

/// Losses whose labels are class indices.
bool class_index_loss(const std::string& loss) {
  return loss == "softmax_cross_entropy" || loss == "multiclass_hinge";
}

/// The initializers the rules make trainable or frozen state; the rest are constants.
struct ParamRoles {
  std::set<std::string> trainable, state;
};

ParamRoles classify(const onnx::GraphProto& g, const std::set<std::string>& initializers) {
  ParamRoles r;
  std::map<std::string, const onnx::NodeProto*> producer;
  for (const auto& n : g.node())
    for (const auto& o : n.output()) producer[o] = &n;
  auto train = [&](const onnx::NodeProto& n, int i) {
    if (n.input_size() <= i) return;
    std::string name = n.input(i);
    // A weight may reach the op through a Transpose (the dynamo exporter's Linear).
    auto p = producer.find(name);
    if (p != producer.end() && p->second->op_type() == "Transpose" && p->second->input_size() > 0)
      name = p->second->input(0);
    if (initializers.count(name)) r.trainable.insert(name);
  };
  for (const auto& n : g.node()) {
    const std::string& op = n.op_type();
    if (op == "Gemm" || op == "Conv") {
      train(n, 1);
      train(n, 2);
    } else if (op == "MatMul") {
      train(n, 0);
      train(n, 1);
    } else if (op == "BatchNormalization") {
      train(n, 1);
      train(n, 2);
      for (int i : {3, 4})
        if (n.input_size() > i && initializers.count(n.input(i))) r.state.insert(n.input(i));
    } else if (op == "Add" && n.input_size() == 2) {
      // The bias of a MatMul: Add(MatMul(...), b).
      for (int i : {0, 1}) {
        auto p = producer.find(n.input(i));
        if (p != producer.end() && p->second->op_type() == "MatMul") train(n, 1 - i);
      }
    }
  }
  return r;
}

}  // namespace

const Known& Importer::known(const std::string& onnx_name) const { return known_.at(onnx_name); }

std::string Importer::where(const onnx::NodeProto& n) const {
  return source_ + ": node '" + (n.name().empty() ? (n.output_size() ? n.output(0) : std::string("?")) : n.name()) +
         "' (" + n.op_type() + ")";
}

std::string Importer::value(const std::string& onnx_name) {
  auto it = values_.find(onnx_name);
  if (it != values_.end()) return it->second;
  auto k = known_.find(onnx_name);
  if (k == known_.end()) throw Error(source_ + ": value '" + onnx_name + "' is used before it is computed");
  const Known& c = k->second;
  if (c.has_batch()) throw Error(source_ + ": '" + onnx_name + "' holds the symbolic batch size as data");
  Attrs attrs{{"dtype", attr_dtype(c.dtype)}, {"dims", attr_ints(c.dims)}};
  if (c.numel() == 1) {
    attrs["value"] = attr_f(c.values[0]);
  } else {
    proto::AttrValue v;
    for (double x : c.values) v.mutable_floats()->add_values(x);
    attrs["values"] = v;
  }
  std::string name = b_.op("constant", {}, attrs, onnx_name);
  values_[onnx_name] = name;
  return name;
}

}  // namespace onnx_import

bool is_onnx_path(const std::string& path) {
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".onnx") == 0;
}

Model import_onnx(const std::string& path, const OnnxImportOptions& options) {
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  return import_onnx_bytes(read_file_bytes(path), path, dir, options);
}

Model import_onnx_bytes(const std::string& bytes, const std::string& path, const std::string& dir,
                        const OnnxImportOptions& options) {
  using namespace onnx_import;
  onnx::ModelProto mp;
  {
    google::protobuf::LogSilencer quiet;
    if (!mp.ParseFromString(bytes)) throw Error(path + ": not an ONNX model (the protobuf does not parse)");
  }
  if (mp.ir_version() < 3 || mp.ir_version() > kMaxIrVersion)
    throw Error(path + ": ONNX IR version " + std::to_string(mp.ir_version()) + " is not supported (3 to " +
                std::to_string(kMaxIrVersion) + ")");
  int64_t opset = -1;
  for (const auto& o : mp.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  if (opset < kMinOpset || opset > kMaxOpset)
    throw Error(path + ": ONNX opset " + std::to_string(opset) + " is not supported (" + std::to_string(kMinOpset) +
                " to " + std::to_string(kMaxOpset) + "); re-export with opset_version=17, say");
  const onnx::GraphProto& g = mp.graph();

  // Every unsupported op at once: type, node names, opset.
  std::map<std::string, std::vector<std::string>> unsupported;
  for (const auto& n : g.node())
    if (!(n.domain().empty() || n.domain() == "ai.onnx") || !find_converter(n.op_type()))
      unsupported[(n.domain().empty() ? "" : n.domain() + ".") + n.op_type()].push_back(
          n.name().empty() && n.output_size() > 0 ? n.output(0) : n.name());
  if (!unsupported.empty()) {
    std::string text = path + ": " + std::to_string(unsupported.size()) + " unsupported op type" +
                       (unsupported.size() > 1 ? "s" : "") + " (opset " + std::to_string(opset) + "):";
    for (const auto& [op, nodes] : unsupported) {
      text += "\n  " + op + ": ";
      for (size_t i = 0; i < nodes.size() && i < 5; ++i) text += (i ? ", " : "") + nodes[i];
      if (nodes.size() > 5) text += " and " + std::to_string(nodes.size() - 5) + " more";
    }
    throw Error(text);
  }

  Model m;
  m.source = path;
  Importer im(m, path, opset);

  std::set<std::string> init_names;
  for (const auto& t : g.initializer()) init_names.insert(t.name());
  ParamRoles roles = classify(g, init_names);
  for (const std::string& name : options.trainable) {
    if (!init_names.count(name)) throw Error(path + ": --trainable " + name + ": the model has no initializer of that name");
    roles.trainable.insert(name);
    roles.state.erase(name);
  }
  for (const std::string& name : options.frozen) {
    if (!init_names.count(name)) throw Error(path + ": --frozen " + name + ": the model has no initializer of that name");
    roles.trainable.erase(name);
    roles.state.insert(name);
  }

  // Graph inputs (older exports list initializers among them too): the
  // first dimension is the batch.
  for (const auto& vi : g.input()) {
    if (init_names.count(vi.name())) continue;
    const auto& tt = vi.type().tensor_type();
    if (tt.elem_type() != onnx::TensorProto::FLOAT)
      throw Error(path + ": input '" + vi.name() + "' is not float; dlc imports float data inputs");
    std::vector<int64_t> dims;
    for (int i = 0; i < tt.shape().dim_size(); ++i) {
      const auto& d = tt.shape().dim(i);
      if (i == 0) {
        if (d.has_dim_value()) im.export_batch = d.dim_value();
        dims.push_back(kBatch);
      } else if (d.has_dim_value()) {
        dims.push_back(d.dim_value());
      } else {
        throw Error(path + ": input '" + vi.name() + "' has a symbolic dimension " + std::to_string(i) + " ('" +
                    d.dim_param() + "'); only the first (the batch) may be");
      }
    }
    if (dims.empty()) throw Error(path + ": input '" + vi.name() + "' is a scalar; dlc needs a batch dimension");
    im.set_value(vi.name(), im.builder().input(vi.name(), TensorType{DType::f32, dims}, proto::DATA));
  }
  // Initializers: parameters (trainable or state) or known constants.
  for (const auto& t : g.initializer()) {
    Known k = decode_tensor(t, dir, path + ": initializer '" + t.name() + "'");
    bool trainable = roles.trainable.count(t.name()) > 0, state = roles.state.count(t.name()) > 0;
    if (!trainable && !state) {
      im.set_known(t.name(), std::move(k));
      continue;
    }
    if (k.dtype != DType::f32)
      throw Error(path + ": parameter '" + t.name() + "' is not float32 (" + dtype_name(k.dtype) + ")");
    proto::Initializer init;
    for (double v : k.values) init.mutable_data()->add_values(v);
    im.set_value(t.name(), im.builder().param(t.name(), TensorType{DType::f32, k.dims}, init, /*frozen=*/state));
  }
  for (const auto& n : g.node()) {
    if (n.output_size() == 0 || n.output(0).empty()) throw Error(im.where(n) + ": the node has no output");
    try {
      find_converter(n.op_type())(im, n);
    } catch (const Error& e) {
      std::string what = e.what();
      // Errors from the graph builder name the dlc node; say which ONNX node it was.
      if (what.rfind(path, 0) != 0) throw Error(im.where(n) + ": " + what);
      throw;
    } catch (const std::out_of_range& e) {  // an attribute or operand list shorter than the op needs
      throw Error(im.where(n) + ": an operand or attribute has too few values");
    }
  }
  for (const auto& o : g.output()) {
    if (!im.has_value(o.name()) && !im.is_known(o.name()))
      throw Error(path + ": output '" + o.name() + "' is not computed by any node");
    m.graph.outputs.push_back(im.value(o.name()));
  }
  if (m.graph.outputs.empty()) throw Error(path + ": the model has no outputs");

  if (!options.loss.empty()) {
    GraphBuilder& b = im.builder();
    std::string target = options.loss_output.empty() ? g.output(0).name() : options.loss_output;
    if (!im.has_value(target)) throw Error(path + ": --loss-output " + target + ": the model has no output of that name");
    std::string label_dtype = options.label_dtype.empty() ? (class_index_loss(options.loss) ? "i32" : "f32")
                                                          : options.label_dtype;
    DType ldt = label_dtype == "i32" ? DType::i32 : label_dtype == "i64" ? DType::i64 : DType::f32;
    if (label_dtype != "i32" && label_dtype != "i64" && label_dtype != "f32")
      throw Error("--label-dtype takes i32, i64 or f32, not '" + label_dtype + "'");
    const TensorType& out_type = m.graph.type_of(im.value(target));
    std::vector<int64_t> label_dims{kBatch};
    if (!class_index_loss(options.loss))  // a target per output element
      label_dims = out_type.dims;
    if (m.graph.types.count(options.label))
      throw Error(path + ": the label input '" + options.label + "' clashes with a value of the model; pick "
                  "another with --label");
    b.input(options.label, TensorType{ldt, label_dims}, proto::LABEL);
    std::string loss = b.op(options.loss, {im.value(target), options.label}, {}, "loss");
    // dlrun scores a classifier by its first output's probabilities.
    if (options.loss == "softmax_cross_entropy")
      m.graph.outputs.insert(m.graph.outputs.begin(),
                             b.op("softmax", {im.value(target)}, {{"axis", attr_i(-1)}}, "probs"));
    else if (options.loss == "sigmoid_binary_cross_entropy")
      m.graph.outputs.insert(m.graph.outputs.begin(), b.op("sigmoid", {im.value(target)}, {}, "probs"));
    m.training.set_loss(loss);
    *m.training.mutable_optimizer() = options.optimizer;
    if (m.training.optimizer().kind().empty()) m.training.mutable_optimizer()->set_kind("sgd");
    if (!m.training.optimizer().has_learning_rate()) m.training.mutable_optimizer()->set_learning_rate(0.01);
    for (const auto& r : options.regularization) *m.training.add_regularization() = r;
  }
  verify_or_throw(m);
  return m;
}

}  // namespace dlc
