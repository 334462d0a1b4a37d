// GraphBuilder: appends typed nodes to a graph in a few lines.
//
// Used by the C++ model-building API, by tests, and by passes (autodiff's
// gradient rules emit ordinary graph ops through it).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"

namespace dlc {

class GraphBuilder {
 public:
  explicit GraphBuilder(Graph& g) : g_(g) {}
  Graph& graph() { return g_; }

  std::string input(const std::string& name, TensorType type, proto::InputRole role = proto::DATA);
  std::string param(const std::string& name, TensorType type, proto::Initializer init,
                    bool frozen = false);
  void output(const std::string& value) { g_.outputs.push_back(value); }

  /// Appends a node and infers its output types at once; throws dlc::Error
  /// naming the node when the op is unknown or the types do not fit.
  /// Output names are `out_names` or fresh names derived from the op.
  std::vector<std::string> emit(const std::string& op, const std::vector<std::string>& inputs,
                                const Attrs& attrs = {}, std::vector<std::string> out_names = {});
  /// `emit` for single-output ops; returns the output's name.
  std::string op(const std::string& op, const std::vector<std::string>& inputs,
                 const Attrs& attrs = {}, const std::string& out_name = "");

  const TensorType& type(const std::string& value) const { return g_.type_of(value); }

  // Conveniences for the common ops.
  std::string add(const std::string& a, const std::string& b) { return op("add", {a, b}); }
  std::string sub(const std::string& a, const std::string& b) { return op("sub", {a, b}); }
  std::string mul(const std::string& a, const std::string& b) { return op("mul", {a, b}); }
  std::string div(const std::string& a, const std::string& b) { return op("div", {a, b}); }
  std::string neg(const std::string& a) { return op("neg", {a}); }
  /// A constant scalar of `dtype`, broadcastable against anything.
  std::string scalar(double v, DType dtype = DType::f32);
  /// A constant filled with `v` of the given type.
  std::string fill(double v, const TensorType& type);
  std::string matmul(const std::string& a, const std::string& b, bool transpose_a = false,
                     bool transpose_b = false);
  std::string reduce_sum(const std::string& x, const std::vector<int64_t>& axes, bool keepdims = false);
  std::string reshape(const std::string& x, const std::vector<int64_t>& dims);
  std::string broadcast_to(const std::string& x, const std::vector<int64_t>& dims);
  std::string cast(const std::string& x, DType dtype);

  /// Persistent state that an expansion updates in a train step
  /// (batch_norm's running statistics). expand_composites points the builder
  /// at Model::updates when the model trains; otherwise nothing records, and
  /// expansions emit no update (they check records_state_updates()).
  void record_state_updates(std::vector<std::pair<std::string, std::string>>* to) { state_updates_ = to; }
  bool records_state_updates() const { return state_updates_ != nullptr; }
  /// True when the graph being built will have a train_step (the model
  /// trains): expansions may then add a training form (if_training).
  bool builds_train_step() const { return records_state_updates(); }
  /// Records `param := value` after each train step. Throws dlc::Error when
  /// `param` is not a frozen parameter (the optimizer would also write a
  /// trainable one) or already has an update.
  void update_state(const std::string& param, const std::string& value);

 private:
  Graph& g_;
  std::vector<std::pair<std::string, std::string>>* state_updates_ = nullptr;
};

}  // namespace dlc
