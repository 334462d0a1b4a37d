// A small model-building API over GraphBuilder: layers, activations and
// losses in a line each, so tests and programs build models quickly.
//
//   Model m;
//   GraphBuilder b(m.graph);
//   auto x = data_input(b, "x", {784});
//   auto y = label_input(b, "label");
//   auto h = relu(b, dense(b, x, 256, "fc1", init_he()));
//   auto logits = dense(b, h, 10, "fc2");
//   b.output(softmax(b, logits, -1, "probs"));
//   set_training(m, softmax_cross_entropy(b, logits, y, "loss"), adam(1e-3));
//
// Every function emits ordinary graph ops through the builder, so shapes are
// checked as the model is built (dlc::Error names the node at fault).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/builder.h"
#include "ir/graph.h"

namespace dlc {

// --- Initializers (the proto messages of ir/dlc.proto) ---------------------
proto::Initializer init_zeros();
proto::Initializer init_constant(double value);
proto::Initializer init_normal(double std, double mean = 0);
proto::Initializer init_uniform(double lo, double hi);
/// Glorot uniform; the usual choice before sigmoid or tanh.
proto::Initializer init_xavier();
/// Kaiming normal; the usual choice before ReLU.
proto::Initializer init_he();
proto::Initializer init_data(const std::vector<double>& values);

// --- Inputs -----------------------------------------------------------------
/// A DATA input of shape [batch, features...].
std::string data_input(GraphBuilder& b, const std::string& name, const std::vector<int64_t>& features,
                       DType dtype = DType::f32);
/// A LABEL input of shape [batch, extra...]: class indices (i32) by default.
std::string label_input(GraphBuilder& b, const std::string& name, DType dtype = DType::i32,
                        const std::vector<int64_t>& extra = {});

// --- Layers -----------------------------------------------------------------
/// x·W + b with W of shape [in, units] (in = x's last dim) named `name.w`,
/// initialized by `init`, and b of shape [units] named `name.b`, zeros.
/// The result is the value `name`.
std::string dense(GraphBuilder& b, const std::string& x, int64_t units, const std::string& name,
                  const proto::Initializer& init = init_xavier(), bool bias = true);

/// Dense layers of `units` (`prefix`1, `prefix`2, ...) with `activation`
/// between them and none after the last: returns the logits.
std::string mlp(GraphBuilder& b, const std::string& x, const std::vector<int64_t>& units,
                const std::string& activation = "relu", const proto::Initializer& init = init_he(),
                const std::string& prefix = "fc");

// --- Activations (out_name "" picks a fresh name) -----------------------------
/// Any one-input activation op by name: relu, sigmoid, tanh, softplus, ...
std::string activation(GraphBuilder& b, const std::string& kind, const std::string& x,
                       const std::string& out_name = "");
std::string relu(GraphBuilder& b, const std::string& x, const std::string& out_name = "");
std::string sigmoid(GraphBuilder& b, const std::string& x, const std::string& out_name = "");
std::string tanh(GraphBuilder& b, const std::string& x, const std::string& out_name = "");
std::string softmax(GraphBuilder& b, const std::string& x, int64_t axis = -1, const std::string& out_name = "");
std::string log_softmax(GraphBuilder& b, const std::string& x, int64_t axis = -1,
                        const std::string& out_name = "");
/// Identity outside training; drops each element with probability `rate` in it.
std::string dropout(GraphBuilder& b, const std::string& x, double rate, const std::string& out_name = "");

// --- Losses: each a scalar, the mean over the batch -----------------------------
/// Cross-entropy of softmax(logits) against integer class labels.
std::string softmax_cross_entropy(GraphBuilder& b, const std::string& logits, const std::string& labels,
                                  const std::string& out_name = "");
/// Binary cross-entropy of sigmoid(logits) against 0/1 targets.
std::string sigmoid_binary_cross_entropy(GraphBuilder& b, const std::string& logits, const std::string& labels,
                                         const std::string& out_name = "");
std::string mse(GraphBuilder& b, const std::string& prediction, const std::string& target,
                const std::string& out_name = "");
std::string l1(GraphBuilder& b, const std::string& prediction, const std::string& target,
               const std::string& out_name = "");
/// Sum over wrong classes of max(0, s_j - s_true + 1), then the batch mean.
std::string multiclass_hinge(GraphBuilder& b, const std::string& scores, const std::string& labels,
                             const std::string& out_name = "");
/// log(1 + e^(-y·f)) with y in {-1, 1}.
std::string logistic(GraphBuilder& b, const std::string& f, const std::string& labels,
                     const std::string& out_name = "");

// --- Training section -----------------------------------------------------------
proto::Optimizer sgd(double learning_rate);
proto::Optimizer momentum(double learning_rate, double coefficient = 0.9);
proto::Optimizer adam(double learning_rate, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8);
/// Makes `loss` the model's training loss, minimized by `optimizer`.
void set_training(Model& m, const std::string& loss, const proto::Optimizer& optimizer);

}  // namespace dlc
