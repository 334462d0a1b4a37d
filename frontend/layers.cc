#include "frontend/layers.h"

#include "ir/error.h"

namespace dlc {

proto::Initializer init_zeros() {
  proto::Initializer i;
  i.mutable_zeros();
  return i;
}

proto::Initializer init_constant(double value) {
  proto::Initializer i;
  i.mutable_constant()->set_value(value);
  return i;
}

proto::Initializer init_normal(double std, double mean) {
  proto::Initializer i;
  i.mutable_normal()->set_mean(mean);
  i.mutable_normal()->set_std(std);
  return i;
}

proto::Initializer init_uniform(double lo, double hi) {
  proto::Initializer i;
  i.mutable_uniform()->set_lo(lo);
  i.mutable_uniform()->set_hi(hi);
  return i;
}

proto::Initializer init_xavier() {
  proto::Initializer i;
  i.mutable_xavier();
  return i;
}

proto::Initializer init_he() {
  proto::Initializer i;
  i.mutable_he();
  return i;
}

proto::Initializer init_data(const std::vector<double>& values) {
  proto::Initializer i;
  for (double v : values) i.mutable_data()->add_values(v);
  return i;
}

std::string data_input(GraphBuilder& b, const std::string& name, const std::vector<int64_t>& features,
                       DType dtype) {
  std::vector<int64_t> dims{kBatch};
  dims.insert(dims.end(), features.begin(), features.end());
  return b.input(name, {dtype, dims}, proto::DATA);
}

std::string label_input(GraphBuilder& b, const std::string& name, DType dtype, const std::vector<int64_t>& extra) {
  std::vector<int64_t> dims{kBatch};
  dims.insert(dims.end(), extra.begin(), extra.end());
  return b.input(name, {dtype, dims}, proto::LABEL);
}

std::string dense(GraphBuilder& b, const std::string& x, int64_t units, const std::string& name,
                  const proto::Initializer& init, bool bias) {
  const TensorType& xt = b.type(x);
  if (xt.rank() == 0) throw Error("dense layer '" + name + "': input '" + x + "' is a scalar");
  if (units <= 0) throw Error("dense layer '" + name + "': units must be positive, got " + std::to_string(units));
  int64_t in = xt.dims.back();
  if (in == kBatch) throw Error("dense layer '" + name + "': the last dim of '" + x + "' is the batch dim");
  std::string w = b.param(name + ".w", {xt.dtype, {in, units}}, init);
  if (!bias) return b.op("matmul", {x, w}, {}, name);
  std::string bv = b.param(name + ".b", {xt.dtype, {units}}, init_zeros());
  return b.op("add", {b.matmul(x, w), bv}, {}, name);
}

std::string mlp(GraphBuilder& b, const std::string& x, const std::vector<int64_t>& units,
                const std::string& act, const proto::Initializer& init, const std::string& prefix) {
  std::string h = x;
  for (size_t i = 0; i < units.size(); ++i) {
    h = dense(b, h, units[i], prefix + std::to_string(i + 1), init);
    if (i + 1 < units.size()) h = activation(b, act, h);
  }
  return h;
}

std::string activation(GraphBuilder& b, const std::string& kind, const std::string& x, const std::string& out_name) {
  return b.op(kind, {x}, {}, out_name);
}

std::string relu(GraphBuilder& b, const std::string& x, const std::string& out_name) {
  return activation(b, "relu", x, out_name);
}

std::string sigmoid(GraphBuilder& b, const std::string& x, const std::string& out_name) {
  return activation(b, "sigmoid", x, out_name);
}

std::string tanh(GraphBuilder& b, const std::string& x, const std::string& out_name) {
  return activation(b, "tanh", x, out_name);
}

std::string softmax(GraphBuilder& b, const std::string& x, int64_t axis, const std::string& out_name) {
  return b.op("softmax", {x}, {{"axis", attr_i(axis)}}, out_name);
}

std::string log_softmax(GraphBuilder& b, const std::string& x, int64_t axis, const std::string& out_name) {
  return b.op("log_softmax", {x}, {{"axis", attr_i(axis)}}, out_name);
}

std::string dropout(GraphBuilder& b, const std::string& x, double rate, const std::string& out_name) {
  return b.op("dropout", {x}, {{"rate", attr_f(rate)}}, out_name);
}

std::string softmax_cross_entropy(GraphBuilder& b, const std::string& logits, const std::string& labels,
                                  const std::string& out_name) {
  return b.op("softmax_cross_entropy", {logits, labels}, {}, out_name);
}

std::string sigmoid_binary_cross_entropy(GraphBuilder& b, const std::string& logits, const std::string& labels,
                                         const std::string& out_name) {
  return b.op("sigmoid_binary_cross_entropy", {logits, labels}, {}, out_name);
}

std::string mse(GraphBuilder& b, const std::string& prediction, const std::string& target,
                const std::string& out_name) {
  return b.op("mse", {prediction, target}, {}, out_name);
}

std::string l1(GraphBuilder& b, const std::string& prediction, const std::string& target,
               const std::string& out_name) {
  return b.op("l1", {prediction, target}, {}, out_name);
}

std::string multiclass_hinge(GraphBuilder& b, const std::string& scores, const std::string& labels,
                             const std::string& out_name) {
  return b.op("multiclass_hinge", {scores, labels}, {}, out_name);
}

std::string logistic(GraphBuilder& b, const std::string& f, const std::string& labels, const std::string& out_name) {
  return b.op("logistic", {f, labels}, {}, out_name);
}

proto::Optimizer sgd(double learning_rate) {
  proto::Optimizer o;
  o.set_kind("sgd");
  o.set_learning_rate(learning_rate);
  return o;
}

proto::Optimizer momentum(double learning_rate, double coefficient) {
  proto::Optimizer o;
  o.set_kind("momentum");
  o.set_learning_rate(learning_rate);
  o.set_momentum(coefficient);
  return o;
}

proto::Optimizer adam(double learning_rate, double beta1, double beta2, double epsilon) {
  proto::Optimizer o;
  o.set_kind("adam");
  o.set_learning_rate(learning_rate);
  o.set_beta1(beta1);
  o.set_beta2(beta2);
  o.set_epsilon(epsilon);
  return o;
}

void set_training(Model& m, const std::string& loss, const proto::Optimizer& optimizer) {
  m.training.set_loss(loss);
  *m.training.mutable_optimizer() = optimizer;
}

}  // namespace dlc
