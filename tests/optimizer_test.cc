// Each optimizer's lowered update, run for two steps through the reference
// interpreter, against the formula written out in plain loops.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "compiler/passes/autodiff.h"
#include "compiler/passes/lower_optimizer.h"
#include "compiler/passes/optimizers.h"
#include "ir/builder.h"
#include "ir/error.h"
#include "ir/initializers.h"
#include "ir/verifier.h"
#include "reference/ref_interpreter.h"

namespace dlc {
namespace {

const std::vector<double> kX = {0.5, -1.0, 2.0};
const std::vector<double> kW0 = {0.1, -0.2, 0.3};
const double kLr[2] = {0.1, 0.05};  // a different learning rate per step

/// loss = Σ (w - x)², whose gradient 2(w - x) changes from step to step.
Model make_model(const proto::Optimizer& opt) {
  Model m;
  m.source = "opt.pbtxt";
  GraphBuilder b(m.graph);
  TensorType t{DType::f32, {3}};
  auto x = b.input("x", t);
  proto::Initializer init;
  for (double v : kW0) init.mutable_data()->add_values(v);
  auto w = b.param("w", t, init);
  auto d = b.sub(w, x);
  auto loss = b.reduce_sum(b.op("square", {d}), {0});
  m.training.set_loss(loss);
  *m.training.mutable_optimizer() = opt;
  EXPECT_TRUE(AutodiffPass().run(m));
  return m;
}

/// Runs two training steps; returns w after each.
std::vector<std::vector<double>> run_two_steps(Model& m) {
  EXPECT_TRUE(LowerOptimizerPass().run(m));
  verify_or_throw(m);
  std::map<std::string, Tensor> values;
  for (const auto& p : m.graph.params) values[p.name] = initialize_parameter(p, 0);
  values["x"] = Tensor({DType::f32, {3}}, kX);
  std::vector<std::string> wanted;
  for (const auto& [param, value] : m.updates) wanted.push_back(value);
  RefInterpreter interp(m.graph);
  std::vector<std::vector<double>> ws;
  for (int t = 1; t <= 2; ++t) {
    values["learning_rate"] = Tensor::scalar(kLr[t - 1]);
    values["step"] = Tensor::scalar(t);
    auto out = interp.run(values, wanted);
    for (const auto& [param, value] : m.updates) values[param] = out.at(value);
    ws.push_back(values.at("w").data);
  }
  return ws;
}

/// The same two steps by hand: `update(w, g, lr, t)` changes w in place and
/// keeps its own state.
std::vector<std::vector<double>> by_hand(
    const std::function<void(std::vector<double>&, const std::vector<double>&, double, int)>& update) {
  std::vector<double> w = kW0;
  for (auto& v : w) v = static_cast<float>(v);  // f32 parameter
  std::vector<std::vector<double>> ws;
  for (int t = 1; t <= 2; ++t) {
    std::vector<double> g(3);
    for (int i = 0; i < 3; ++i) g[i] = 2 * (w[i] - kX[i]);
    update(w, g, kLr[t - 1], t);
    ws.push_back(w);
  }
  return ws;
}

void expect_close(const std::vector<std::vector<double>>& got, const std::vector<std::vector<double>>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t s = 0; s < got.size(); ++s)
    for (size_t i = 0; i < 3; ++i)
      EXPECT_NEAR(got[s][i], want[s][i], 1e-12 * std::max(1.0, std::abs(want[s][i])))
          << "step " << s + 1 << " element " << i;
  // The update must have moved w: a no-op lowering would otherwise pass.
  EXPECT_NE(got[0][0], static_cast<double>(static_cast<float>(kW0[0])));
}

proto::Optimizer kind(const std::string& k) {
  proto::Optimizer o;
  o.set_kind(k);
  return o;
}

}  // namespace

TEST(Optimizer, Sgd) {
  Model m = make_model(kind("sgd"));
  expect_close(run_two_steps(m), by_hand([](auto& w, auto& g, double lr, int) {
                 for (int i = 0; i < 3; ++i) w[i] -= lr * g[i];
               }));
  EXPECT_EQ(m.updates.size(), 1u);
}

TEST(Optimizer, SgdWithWeightDecayAddsItToTheGradient) {
  proto::Optimizer o = kind("sgd");
  o.set_weight_decay(0.3);
  Model m = make_model(o);
  expect_close(run_two_steps(m), by_hand([](auto& w, auto& g, double lr, int) {
                 for (int i = 0; i < 3; ++i) w[i] -= lr * (g[i] + 0.3 * w[i]);
               }));
}

TEST(Optimizer, Momentum) {
  proto::Optimizer o = kind("momentum");
  o.set_momentum(0.8);
  Model m = make_model(o);
  std::vector<double> v(3, 0.0);
  expect_close(run_two_steps(m), by_hand([&](auto& w, auto& g, double lr, int) {
                 for (int i = 0; i < 3; ++i) {
                   v[i] = 0.8 * v[i] + g[i];
                   w[i] -= lr * v[i];
                 }
               }));
  const Parameter* state = m.graph.find_param("w.velocity");
  ASSERT_NE(state, nullptr);
  EXPECT_TRUE(state->frozen);
  EXPECT_EQ(state->type, m.graph.find_param("w")->type);
  EXPECT_EQ(m.updates.size(), 2u);
}

TEST(Optimizer, Nesterov) {
  Model m = make_model(kind("nesterov"));
  std::vector<double> v(3, 0.0);
  expect_close(run_two_steps(m), by_hand([&](auto& w, auto& g, double lr, int) {
                 for (int i = 0; i < 3; ++i) {
                   v[i] = 0.9 * v[i] + g[i];
                   w[i] -= lr * (g[i] + 0.9 * v[i]);
                 }
               }));
}

TEST(Optimizer, Adagrad) {
  Model m = make_model(kind("adagrad"));
  std::vector<double> G(3, 0.0);
  expect_close(run_two_steps(m), by_hand([&](auto& w, auto& g, double lr, int) {
                 for (int i = 0; i < 3; ++i) {
                   G[i] += g[i] * g[i];
                   w[i] -= lr * g[i] / (std::sqrt(G[i]) + 1e-10);
                 }
               }));
}

TEST(Optimizer, Rmsprop) {
  proto::Optimizer o = kind("rmsprop");
  o.set_rho(0.95);
  o.set_epsilon(1e-3);
  Model m = make_model(o);
  std::vector<double> s(3, 0.0);
  expect_close(run_two_steps(m), by_hand([&](auto& w, auto& g, double lr, int) {
                 for (int i = 0; i < 3; ++i) {
                   s[i] = 0.95 * s[i] + 0.05 * g[i] * g[i];
                   w[i] -= lr * g[i] / (std::sqrt(s[i]) + 1e-3);
                 }
               }));
}

TEST(Optimizer, RmspropDefaultsArePyTorchs) {
  // torch.optim.RMSprop: alpha (our rho) 0.99, eps 1e-8; dlc used rho 0.9.
  Model m = make_model(kind("rmsprop"));
  std::vector<double> s(3, 0.0);
  expect_close(run_two_steps(m), by_hand([&](auto& w, auto& g, double lr, int) {
                 for (int i = 0; i < 3; ++i) {
                   s[i] = 0.99 * s[i] + 0.01 * g[i] * g[i];
                   w[i] -= lr * g[i] / (std::sqrt(s[i]) + 1e-8);
                 }
               }));
}

TEST(Optimizer, HyperParametersAreCheckedFromTheTable) {
  // One range check per field, and a field the kind does not use is named.
  proto::Optimizer o = kind("adagrad");
  o.set_epsilon(std::nan(""));
  o.set_beta2(0.9);
  std::vector<std::string> errors = check_hyper_parameters(o, "m.pbtxt: training: ");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0],
            "m.pbtxt: training: optimizer adagrad: beta2 0.9 is set, but adagrad does not use it (it uses "
            "learning_rate, epsilon, weight_decay)");
  EXPECT_EQ(errors[1], "m.pbtxt: training: optimizer adagrad: epsilon must be a finite number >= 0, got nan");
  for (const auto& spec : optimizer_specs()) EXPECT_TRUE(check_hyper_parameters(kind(spec.kind), "").empty());
}

TEST(Optimizer, Adadelta) {
  Model m = make_model(kind("adadelta"));
  std::vector<double> eg(3, 0.0), edx(3, 0.0);
  expect_close(run_two_steps(m), by_hand([&](auto& w, auto& g, double lr, int) {
                 for (int i = 0; i < 3; ++i) {
                   eg[i] = 0.9 * eg[i] + 0.1 * g[i] * g[i];
                   double delta = std::sqrt(edx[i] + 1e-6) / std::sqrt(eg[i] + 1e-6) * g[i];
                   edx[i] = 0.9 * edx[i] + 0.1 * delta * delta;
                   w[i] -= lr * delta;
                 }
               }));
  EXPECT_EQ(m.updates.size(), 3u);
  EXPECT_EQ(default_learning_rate(m.training.optimizer()), 1.0);
}

TEST(Optimizer, Adam) {
  Model m = make_model(kind("adam"));
  std::vector<double> mo(3, 0.0), v(3, 0.0);
  expect_close(run_two_steps(m), by_hand([&](auto& w, auto& g, double lr, int t) {
                 for (int i = 0; i < 3; ++i) {
                   mo[i] = 0.9 * mo[i] + 0.1 * g[i];
                   v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
                   double m_hat = mo[i] / (1 - std::pow(0.9, t));
                   double v_hat = v[i] / (1 - std::pow(0.999, t));
                   w[i] -= lr * m_hat / (std::sqrt(v_hat) + 1e-8);
                 }
               }));
  EXPECT_NE(m.graph.find_param("w.m"), nullptr);
  EXPECT_NE(m.graph.find_param("w.v"), nullptr);
}

TEST(Optimizer, AdamwDecaysDecoupledFromTheGradient) {
  proto::Optimizer o = kind("adamw");
  o.set_beta1(0.8);
  o.set_beta2(0.99);
  o.set_weight_decay(0.2);
  Model m = make_model(o);
  std::vector<double> mo(3, 0.0), v(3, 0.0);
  expect_close(run_two_steps(m), by_hand([&](auto& w, auto& g, double lr, int t) {
                 for (int i = 0; i < 3; ++i) {
                   mo[i] = 0.8 * mo[i] + 0.2 * g[i];
                   v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i];
                   double m_hat = mo[i] / (1 - std::pow(0.8, t));
                   double v_hat = v[i] / (1 - std::pow(0.99, t));
                   w[i] -= lr * m_hat / (std::sqrt(v_hat) + 1e-8) + lr * 0.2 * w[i];
                 }
               }));
}

TEST(Optimizer, AddsRuntimeScalarInputs) {
  Model m = make_model(kind("sgd"));
  LowerOptimizerPass().run(m);
  const Input* lr = m.graph.find_input("learning_rate");
  const Input* step = m.graph.find_input("step");
  ASSERT_TRUE(lr && step);
  EXPECT_EQ(lr->role, proto::LEARNING_RATE);
  EXPECT_EQ(step->role, proto::STEP);
  EXPECT_EQ(lr->type, (TensorType{DType::f32, {}}));
  EXPECT_FALSE(LowerOptimizerPass().run(m)) << "a second run changes nothing";
}

TEST(Optimizer, UpdatesAreElementwiseOps) {
  // Fusion can make one kernel of an update only if it is element-wise.
  Model m = make_model(kind("adam"));
  size_t before = m.graph.nodes.size();
  LowerOptimizerPass().run(m);
  for (size_t k = before; k < m.graph.nodes.size(); ++k) {
    const Node& n = m.graph.nodes[k];
    const OpDef* def = find_op(n.op);
    EXPECT_TRUE(def->lowering == Lowering::elementwise || def->lowering == Lowering::constant) << n.op;
  }
}

TEST(Optimizer, MissingGradientsAndBadHyperParametersAreErrors) {
  Model m = make_model(kind("sgd"));
  m.gradients.clear();
  EXPECT_THROW(LowerOptimizerPass().run(m), Error);

  proto::Optimizer o = kind("momentum");
  o.set_momentum(1.5);
  Model bad = make_model(o);
  try {
    LowerOptimizerPass().run(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("momentum"), std::string::npos) << e.what();
  }
}

TEST(Optimizer, DefaultLearningRates) {
  // PyTorch's (torch.optim 2.x): SGD 1e-3, Adagrad and RMSprop 1e-2, Adadelta 1.0, Adam(W) 1e-3.
  EXPECT_EQ(default_learning_rate(kind("adam")), 0.001);
  EXPECT_EQ(default_learning_rate(kind("sgd")), 0.001);
  EXPECT_EQ(default_learning_rate(kind("nesterov")), 0.001);
  EXPECT_EQ(default_learning_rate(kind("adagrad")), 0.01);
  EXPECT_EQ(default_learning_rate(kind("rmsprop")), 0.01);
  proto::Optimizer o = kind("adadelta");
  o.set_learning_rate(0.5);
  EXPECT_EQ(default_learning_rate(o), 0.5);
}

}  // namespace dlc
