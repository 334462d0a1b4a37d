// Importing ONNX models (what torch.onnx.export writes, with either
// exporter) into the graph IR, for inference and, given a loss and an
// optimizer, for training.
//
// Initializers that are weights or biases of Gemm, MatMul (and the Add of
// its bias), Conv and BatchNormalization (scale, bias) become trainable
// parameters; BatchNormalization's running statistics become frozen state
// that train_step updates; every other initializer is a constant. Names stay
// the initializer names (PyTorch's state_dict keys) and tensors keep their
// ONNX layout (a Linear weight stays [out, in]), so a checkpoint goes back
// into PyTorch unchanged. Shape chains (Shape, Gather, Unsqueeze, Concat,
// Slice, Cast on shapes) are folded at import with the batch kept symbolic.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace dlc {

struct OnnxImportOptions {
  /// A registered loss op (softmax_cross_entropy, mse, ...); empty: the
  /// import is inference-only.
  std::string loss;
  /// The graph output the loss applies to; default: the first output.
  std::string loss_output;
  std::string label = "label";  ///< the LABEL input's name
  /// The label's dtype; default: i32 for class-index losses, f32 otherwise.
  std::string label_dtype;
  proto::Optimizer optimizer;   ///< kind "" with a loss means sgd
  std::vector<proto::Regularizer> regularization;
  /// Initializers to train, or to keep fixed, whatever the rules above say.
  std::vector<std::string> trainable, frozen;
};

/// Reads and converts `path`. Throws dlc::Error naming the file and node at
/// fault; a model with unsupported ops gets one error listing every one of
/// them (op type, node names, opset).
Model import_onnx(const std::string& path, const OnnxImportOptions& options);

/// import_onnx on a file's bytes: `source` names it in errors, and external
/// data files are read from `model_dir` ("" for none: then they are refused).
Model import_onnx_bytes(const std::string& bytes, const std::string& source, const std::string& model_dir,
                        const OnnxImportOptions& options);

/// Whether `path` names an ONNX file (by its .onnx extension).
bool is_onnx_path(const std::string& path);

}  // namespace dlc
