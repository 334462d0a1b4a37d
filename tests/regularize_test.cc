#include <gtest/gtest.h>

#include <cmath>

#include "compiler/passes/autodiff.h"
#include "compiler/passes/regularize.h"
#include "ir/builder.h"
#include "ir/error.h"
#include "ir/initializers.h"
#include "ir/verifier.h"
#include "reference/ref_interpreter.h"

namespace dlc {
namespace {

proto::Initializer data(const std::vector<double>& v) {
  proto::Initializer i;
  for (double x : v) i.mutable_data()->add_values(x);
  return i;
}

const std::vector<double> kW = {0.5, -1.5, 2.0, -0.25, 0.0, 1.0};
const std::vector<double> kB = {-3.0, 0.75, 0.5};
const std::vector<double> kFrozen = {100.0, -100.0, 7.0};

/// loss = reduce_sum(x·w + b) with w: [2,3], b: [3], and a frozen state of shape [3].
Model make_model() {
  Model m;
  m.source = "reg.pbtxt";
  GraphBuilder b(m.graph);
  auto x = b.input("x", {DType::f32, {1, 2}});
  auto w = b.param("w", {DType::f32, {2, 3}}, data(kW));
  auto bias = b.param("b", {DType::f32, {3}}, data(kB));
  b.param("state", {DType::f32, {3}}, data(kFrozen), /*frozen=*/true);
  auto loss = b.reduce_sum(b.add(b.matmul(x, w), bias), {0, 1}, false);
  m.training.set_loss(loss);
  m.training.mutable_optimizer()->set_kind("sgd");
  return m;
}

double eval_loss(Model& m) {
  verify_or_throw(m);
  std::map<std::string, Tensor> feeds;
  for (const auto& p : m.graph.params) feeds[p.name] = initialize_parameter(p, 0);
  feeds["x"] = Tensor({DType::f32, {1, 2}}, {1.0, 2.0});
  return RefInterpreter(m.graph).run(feeds, {m.training.loss()}).at(m.training.loss())[0];
}

double sum_abs(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += std::abs(x);
  return s;
}
double sum_sq(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return s;
}

}  // namespace

TEST(Regularize, EmptyListPenalizesEveryTrainableParameter) {
  Model m = make_model();
  double base = eval_loss(m);
  std::string old_loss = m.training.loss();
  auto* reg = m.training.add_regularization();
  reg->set_l1(0.1);
  reg->set_l2(0.01);
  EXPECT_TRUE(RegularizePass().run(m));
  EXPECT_NE(m.training.loss(), old_loss) << "the loss now names the total";
  double want = base + 0.1 * (sum_abs(kW) + sum_abs(kB)) + 0.01 * (sum_sq(kW) + sum_sq(kB));
  EXPECT_NEAR(eval_loss(m), want, 1e-9);
}

TEST(Regularize, ChosenParametersOnlyAndSeveralRegularizersAdd) {
  Model m = make_model();
  double base = eval_loss(m);
  auto* r1 = m.training.add_regularization();
  r1->add_params("w");
  r1->set_l2(0.5);
  auto* r2 = m.training.add_regularization();
  r2->add_params("b");
  r2->add_params("state");  // named explicitly, so even a frozen one counts
  r2->set_l1(0.2);
  EXPECT_TRUE(RegularizePass().run(m));
  double want = base + 0.5 * sum_sq(kW) + 0.2 * (sum_abs(kB) + sum_abs(kFrozen));
  EXPECT_NEAR(eval_loss(m), want, 1e-9);
}

TEST(Regularize, NoPenaltyLeavesTheModelAlone) {
  Model m = make_model();
  size_t nodes = m.graph.nodes.size();
  std::string loss = m.training.loss();
  EXPECT_FALSE(RegularizePass().run(m));
  m.training.add_regularization();  // l1 = l2 = 0
  EXPECT_FALSE(RegularizePass().run(m));
  EXPECT_EQ(m.graph.nodes.size(), nodes);
  EXPECT_EQ(m.training.loss(), loss);
}

TEST(Regularize, ScalarParameterNeedsNoReduction) {
  Model m = make_model();
  GraphBuilder b(m.graph);
  b.param("s", {DType::f32, {}}, data({-4.0}));
  double base = eval_loss(m);
  auto* reg = m.training.add_regularization();
  reg->add_params("s");
  reg->set_l1(1.0);
  reg->set_l2(1.0);
  RegularizePass().run(m);
  EXPECT_NEAR(eval_loss(m), base + 4.0 + 16.0, 1e-9);
}

TEST(Regularize, UnknownParameterIsNamed) {
  Model m = make_model();
  auto* reg = m.training.add_regularization();
  reg->add_params("nope");
  reg->set_l2(0.1);
  try {
    RegularizePass().run(m);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'nope'"), std::string::npos) << e.what();
  }
}

}  // namespace dlc

namespace dlc {

TEST(Regularize, PenaltyGradientsFollowTheDocumentedConvention) {
  // d/dw [l1·Σ|w| + l2·Σw²] = l1·sign(w) + 2·l2·w, on top of the data term.
  Model plain = make_model();
  AutodiffPass().run(plain);
  Model reg = make_model();
  auto* r = reg.training.add_regularization();
  r->set_l1(0.1);
  r->set_l2(0.01);
  RegularizePass().run(reg);
  AutodiffPass().run(reg);
  auto grads = [](Model& m) {
    std::map<std::string, Tensor> feeds;
    for (const auto& p : m.graph.params) feeds[p.name] = initialize_parameter(p, 0);
    feeds["x"] = Tensor({DType::f32, {1, 2}}, {1.0, 2.0});
    return RefInterpreter(m.graph).run(feeds, {m.gradients.at("w"), m.gradients.at("b")});
  };
  auto g0 = grads(plain);
  auto g1 = grads(reg);
  auto check = [](const Tensor& base, const Tensor& got, const std::vector<double>& w) {
    for (size_t i = 0; i < w.size(); ++i) {
      double sign = w[i] > 0 ? 1.0 : w[i] < 0 ? -1.0 : 0.0;  // abs'(0) = 0
      EXPECT_NEAR(got[static_cast<int64_t>(i)], base[static_cast<int64_t>(i)] + 0.1 * sign + 2 * 0.01 * w[i], 1e-9)
          << "element " << i;
    }
  };
  check(g0.at(plain.gradients.at("w")), g1.at(reg.gradients.at("w")), kW);
  check(g0.at(plain.gradients.at("b")), g1.at(reg.gradients.at("b")), kB);
}

}  // namespace dlc
