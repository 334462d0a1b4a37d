// A small executable built by hand, for runtime tests that must not depend
// on the compiler: a linear layer with a hand-written SGD train step.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "ir/builder.h"
#include "ir/graph.h"
#include "kernel/executable.h"
#include "runtime/executor.h"

namespace dlc::test {

/// Appends an initial value (f32 elements) for parameter `name`.
inline void add_initial_param(proto::Executable& exe, const std::string& name, const TensorType& type,
                              const std::vector<float>& values) {
  auto* t = exe.add_initial_params();
  t->set_name(name);
  *t->mutable_type() = to_proto(type);
  t->set_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
}

/// Initial values of the tiny executable's parameters.
inline const std::vector<float>& tiny_w() {
  static const std::vector<float> w = {0.5f, -1.0f, 0.25f, 2.0f, -0.75f, 1.5f};
  return w;
}
inline const std::vector<float>& tiny_b() {
  static const std::vector<float> b = {0.1f, -0.2f};
  return b;
}

/// A valid executable for batch `batch`:
///   inputs  x f32[B,3] (data), y f32[B,2] (label), learning_rate f32[], step f32[]
///   params  w f32[3,2], b f32[2], and frozen t f32[] (the last step seen)
///   pred = x@w + b; act = relu(pred); loss = mean((pred - y)^2)
///   predict:    x -> act
///   train_step: x, y, learning_rate, step -> loss, act;
///               w -= lr * dloss/dw, b -= lr * dloss/db, t := step
inline proto::Executable tiny_executable(int64_t batch = 4) {
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {batch, 3}});
  auto y = b.input("y", {DType::f32, {batch, 2}}, proto::LABEL);
  auto lr = b.input("learning_rate", {DType::f32, {}}, proto::LEARNING_RATE);
  auto step = b.input("step", {DType::f32, {}}, proto::STEP);
  proto::Initializer zeros;
  zeros.mutable_zeros();
  auto w = b.param("w", {DType::f32, {3, 2}}, zeros);
  auto bias = b.param("b", {DType::f32, {2}}, zeros);
  b.param("t", {DType::f32, {}}, zeros, /*frozen=*/true);
  auto pred = b.op("add", {b.matmul(x, w), bias}, {}, "pred");
  auto act = b.op("relu", {pred}, {}, "act");
  b.output(act);
  auto diff = b.sub(pred, y);
  double scale = 1.0 / static_cast<double>(batch * 2);
  auto loss = b.op("mul", {b.reduce_sum(b.mul(diff, diff), {0, 1}), b.scalar(scale)}, {}, "loss");
  auto dpred = b.mul(diff, b.scalar(2 * scale));
  auto dw = b.matmul(x, dpred, /*transpose_a=*/true);
  auto db = b.reduce_sum(dpred, {0});
  auto w_new = b.op("sub", {w, b.mul(dw, lr)}, {}, "w_new");
  auto b_new = b.op("sub", {bias, b.mul(db, lr)}, {}, "b_new");

  proto::Executable exe;
  exe.set_format_version(kFormatVersion);
  exe.set_target("ref");
  exe.set_batch(batch);
  exe.set_seed(7);
  exe.set_loss(loss);
  exe.set_default_learning_rate(0.1);
  *exe.mutable_graph() = graph_to_proto(g);
  auto* predict = exe.add_entry_points();
  predict->set_name("predict");
  predict->add_inputs(x);
  predict->add_outputs(act);
  auto* train = exe.add_entry_points();
  train->set_name("train_step");
  for (const auto& in : {x, y, lr, step}) train->add_inputs(in);
  train->add_outputs(loss);
  train->add_outputs(act);
  auto add_update = [&](const std::string& param, const std::string& value) {
    auto* u = train->add_updates();
    u->set_param(param);
    u->set_value(value);
  };
  add_update("w", w_new);
  add_update("b", b_new);
  add_update("t", step);
  add_initial_param(exe, "w", {DType::f32, {3, 2}}, tiny_w());
  add_initial_param(exe, "b", {DType::f32, {2}}, tiny_b());
  add_initial_param(exe, "t", {DType::f32, {}}, {0.0f});
  return exe;
}

/// f32 bytes of `values`, as a HostTensor of `dims`.
/// `exe` retargeted to cuda with bytes no GPU loads as its code and an
/// empty kernel program per entry point: a file that validates (so any
/// machine can describe it) but that no machine runs.
inline proto::Executable tiny_cuda_executable() {
  proto::Executable exe = tiny_executable();
  exe.set_target("cuda");
  exe.set_code("not a cubin");
  for (const auto& e : exe.entry_points()) exe.add_programs()->set_entry(e.name());
  return exe;
}

inline HostTensor host_f32(const std::vector<int64_t>& dims, const std::vector<float>& values) {
  HostTensor t(TensorType{DType::f32, dims});
  std::memcpy(t.bytes.data(), values.data(), values.size() * sizeof(float));
  return t;
}

}  // namespace dlc::test
