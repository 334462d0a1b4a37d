#include "compiler/gradcheck.h"

#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "compiler/passes/autodiff.h"
#include "frontend/model_loader.h"
#include "ir/builder.h"
#include "ir/error.h"
#include "ir/verifier.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

constexpr double kTolerance = 1e-6;

proto::Initializer zeros_init() {
  proto::Initializer init;
  init.mutable_zeros();
  return init;
}

std::string sum_all(GraphBuilder& b, const std::string& x) {
  std::vector<int64_t> axes;
  for (int64_t a = 0; a < b.type(x).rank(); ++a) axes.push_back(a);
  return b.reduce_sum(x, axes);
}

TEST(GradcheckRelativeError, UsesSumOfMagnitudesWithAFloor) {
  EXPECT_EQ(gradcheck_relative_error(0, 0), 0);
  EXPECT_DOUBLE_EQ(gradcheck_relative_error(1.0, 1.5), 0.5 / 2.5);
  EXPECT_DOUBLE_EQ(gradcheck_relative_error(-2.0, 2.0), 1.0);
  // Below the floor, noise in a zero derivative stays small.
  EXPECT_DOUBLE_EQ(gradcheck_relative_error(0, 1e-12), 1e-12 / kGradcheckFloor);
  EXPECT_TRUE(std::isinf(gradcheck_relative_error(NAN, 1.0)));
}

/// x [batch, 5] -> W1 [5, 7] + b1 -> activation -> W2 [7, 3] + b2 -> softmax
/// cross entropy against integer labels.
struct Mlp {
  Graph g;
  std::string loss;
  std::vector<std::string> params{"w1", "b1", "w2", "b2"};
  std::map<std::string, Tensor> feeds;
};

Mlp make_mlp(const std::string& activation, int64_t batch) {
  Mlp m;
  GraphBuilder b(m.g);
  auto x = b.input("x", {DType::f32, {batch, 5}});
  auto y = b.input("y", {DType::i32, {batch}}, proto::LABEL);
  auto w1 = b.param("w1", {DType::f32, {5, 7}}, zeros_init());
  auto b1 = b.param("b1", {DType::f32, {7}}, zeros_init());
  auto w2 = b.param("w2", {DType::f32, {7, 3}}, zeros_init());
  auto b2 = b.param("b2", {DType::f32, {3}}, zeros_init());
  auto h = b.op(activation, {b.add(b.matmul(x, w1), b1)});
  auto logits = b.add(b.matmul(h, w2), b2);
  m.loss = b.op("softmax_cross_entropy", {logits, y});
  m.feeds["x"] = test::random_tensor({batch, 5}, 11, -2, 2);
  m.feeds["y"] = test::random_tensor({batch}, 12, 0, 2.999, DType::i32);
  m.feeds["w1"] = test::random_tensor({5, 7}, 13);
  m.feeds["b1"] = test::random_tensor({7}, 14, -0.5, 0.5);
  m.feeds["w2"] = test::random_tensor({7, 3}, 15);
  m.feeds["b2"] = test::random_tensor({3}, 16, -0.5, 0.5);
  return m;
}

class GradcheckMlp : public ::testing::TestWithParam<std::string> {};

TEST_P(GradcheckMlp, EveryParameterWithinTolerance) {
  Mlp m = make_mlp(GetParam(), 6);
  std::vector<GradcheckEntry> entries = gradcheck(m.g, m.loss, m.params, m.feeds);
  ASSERT_EQ(entries.size(), m.params.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].value, m.params[i]);
    EXPECT_EQ(entries[i].elements_checked, m.feeds.at(m.params[i]).numel());
    EXPECT_LT(entries[i].max_rel_error, kTolerance)
        << entries[i].value << "[" << entries[i].worst_index << "]: analytic " << entries[i].analytic
        << ", numeric " << entries[i].numeric;
  }
}

INSTANTIATE_TEST_SUITE_P(Activations, GradcheckMlp, ::testing::Values("relu", "tanh", "sigmoid", "softplus"));

TEST(Gradcheck, DetectsATamperedGradient) {
  Mlp m = make_mlp("tanh", 4);
  verify_or_throw(m.g);
  auto grads = append_gradients(m.g, m.loss, m.params);
  // The control: the true gradients pass ...
  for (const auto& e : compare_gradients(m.g, m.loss, grads, m.feeds))
    EXPECT_LT(e.max_rel_error, kTolerance) << e.value;
  // ... and w1's gradient off by 2% of its own value does not.
  GraphBuilder b(m.g);
  grads["w1"] = b.mul(grads.at("w1"), b.scalar(1.02));
  verify_or_throw(m.g);
  for (const auto& e : compare_gradients(m.g, m.loss, grads, m.feeds)) {
    if (e.value == "w1") {
      EXPECT_GT(e.max_rel_error, 5e-3) << "a 2% error shows as about 1%";
      EXPECT_NEAR(e.analytic, 1.02 * e.numeric, 1e-6 * std::fabs(e.numeric) + 1e-9);
    } else {
      EXPECT_LT(e.max_rel_error, kTolerance) << e.value;
    }
  }
}

TEST(Gradcheck, DetectsAGradientWithTheWrongSign) {
  Graph g;
  GraphBuilder b(g);
  auto w = b.param("w", {DType::f32, {4}}, zeros_init());
  auto loss = sum_all(b, b.op("exp", {w}));
  verify_or_throw(g);
  auto grads = append_gradients(g, loss, {w});
  grads[w] = b.neg(grads.at(w));
  verify_or_throw(g);
  auto entries = compare_gradients(g, loss, grads, {{"w", test::random_tensor({4}, 3)}});
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_DOUBLE_EQ(entries[0].max_rel_error, 1.0) << "|a - n| / (|a| + |n|) with a = -n";
}

TEST(Gradcheck, SamplesAtMostTheRequestedElements) {
  Mlp m = make_mlp("sigmoid", 3);
  GradcheckOptions opts;
  opts.max_elements = 4;
  auto entries = gradcheck(m.g, m.loss, {"w1", "b2"}, m.feeds, 1e-4, opts);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].elements_checked, 4);
  EXPECT_EQ(entries[1].elements_checked, 3) << "b2 has only 3 elements";
  for (const auto& e : entries) EXPECT_LT(e.max_rel_error, kTolerance) << e.value;
}

TEST(Gradcheck, BroadcastingOperandsOfEveryDifferentiableElementwiseOp) {
  // a [3,1,4] against c [2,4]: both gradients must sum over broadcast axes.
  // Operands are kept positive and apart so log, sqrt, pow, div and the
  // kinks of max/min/abs/relu are far from the finite-difference steps.
  for (const auto& [name, def] : OpRegistry::get().all()) {
    if (def.lowering != Lowering::elementwise || !def.grad || !def.attrs.empty() || def.min_inputs > 2)
      continue;
    SCOPED_TRACE(name);
    Graph g;
    GraphBuilder b(g);
    auto a = b.input("a", {DType::f64, {3, 1, 4}});
    auto c = b.input("c", {DType::f64, {2, 4}});
    auto r = b.input("r", {DType::f64, {3, 2, 4}});
    std::vector<std::string> operands{a};
    if (def.max_inputs >= 2) operands.push_back(c);
    std::string y = b.op(name, operands);
    if (b.type(y).dims != std::vector<int64_t>{3, 2, 4}) y = b.broadcast_to(y, {3, 2, 4});
    auto loss = sum_all(b, b.mul(y, r));
    std::map<std::string, Tensor> feeds{{"a", test::random_tensor({3, 1, 4}, 21, 0.5, 1.5, DType::f64)},
                                        {"c", test::random_tensor({2, 4}, 22, 1.7, 2.5, DType::f64)},
                                        {"r", test::random_tensor({3, 2, 4}, 23, -1, 1, DType::f64)}};
    std::vector<std::string> wrt(operands.begin(), operands.end());
    for (const auto& e : gradcheck(g, loss, wrt, feeds))
      EXPECT_LT(e.max_rel_error, kTolerance) << e.value << "[" << e.worst_index << "]: analytic " << e.analytic
                                             << ", numeric " << e.numeric;
  }
}

TEST(Gradcheck, WrtMustBeFed) {
  Mlp m = make_mlp("relu", 2);
  m.feeds.erase("b1");
  EXPECT_THROW(gradcheck(m.g, m.loss, {"b1"}, m.feeds), Error);
}

/// The models shipped in models/ that have a training section.
std::vector<std::string> shipped_models() {
  std::vector<std::string> files;
  std::string dir = test::source_path("models");
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 6 && name.substr(name.size() - 6) == ".pbtxt") files.push_back(dir + "/" + name);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(GradcheckModel, EveryShippedModelIsListed) {
  std::vector<std::string> files = shipped_models();
  ASSERT_FALSE(files.empty()) << "no models in " << test::source_path("models");
}

/// One test per shipped model (they run in parallel): 6 sampled elements
/// of each parameter, batch 3. The convolutional models' float64 forward
/// passes are the slow part, so the sample is small; `dlc gradcheck` checks
/// 20 by default.
class GradcheckShippedModel : public ::testing::TestWithParam<std::string> {};

TEST_P(GradcheckShippedModel, WithinTolerance) {
  Model m = load_model(GetParam());
  if (!m.has_training()) GTEST_SKIP() << GetParam() << " has no training section";
  for (const auto& e : gradcheck_model(m, 1, 3, 6)) {
    EXPECT_LT(e.max_rel_error, kTolerance) << e.value << "[" << e.worst_index << "]: analytic " << e.analytic
                                           << ", numeric " << e.numeric;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, GradcheckShippedModel, ::testing::ValuesIn(shipped_models()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(info.param.rfind('/') + 1);
                           return name.substr(0, name.size() - 6);  // without .pbtxt
                         });

const char* kTinyModel = R"pb(
graph {
  inputs { name: "x" type { dtype: F32 dims: -1 dims: 3 } }
  inputs { name: "y" type { dtype: I64 dims: -1 } role: LABEL }
  params { name: "w" type { dtype: F32 dims: 3 dims: 4 } init { xavier {} } }
  params { name: "b" type { dtype: F32 dims: 4 } init { zeros {} } }
  nodes { op: "matmul" inputs: "x" inputs: "w" outputs: "xw" }
  nodes { op: "add" inputs: "xw" inputs: "b" outputs: "logits" }
  nodes { op: "softmax_cross_entropy" inputs: "logits" inputs: "y" outputs: "loss" }
  outputs: "logits"
}
training { loss: "loss" optimizer { kind: "sgd" } regularization { l2: 0.01 } }
)pb";

TEST(GradcheckModel, BindsBatchDrawsValidLabelsAndChecksEveryParameter) {
  Model m = parse_model_text(kTinyModel, "tiny.pbtxt");
  auto entries = gradcheck_model(m, 7, 5, 0);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].value, "w");
  EXPECT_EQ(entries[0].elements_checked, 12);
  EXPECT_EQ(entries[1].value, "b");
  for (const auto& e : entries) EXPECT_LT(e.max_rel_error, kTolerance) << e.value;
}

// Dropout (training mode, fixed masks) and a hinge loss with integer labels.
const char* kDropoutHingeModel = R"pb(
graph {
  inputs { name: "x" type { dtype: F32 dims: [-1, 4] } }
  inputs { name: "y" type { dtype: I32 dims: -1 } role: LABEL }
  params { name: "w1" type { dtype: F32 dims: [4, 6] } init { he {} } }
  params { name: "w2" type { dtype: F32 dims: [6, 3] } init { xavier {} } }
  nodes { op: "matmul" inputs: ["x", "w1"] outputs: "z" }
  nodes { op: "tanh" inputs: "z" outputs: "h" }
  nodes { op: "dropout" inputs: "h" outputs: "hd" attrs { key: "rate" value { f: 0.3 } } }
  nodes { op: "matmul" inputs: ["hd", "w2"] outputs: "scores" }
  nodes { op: "multiclass_hinge" inputs: ["scores", "y"] outputs: "loss" }
  outputs: "scores"
}
training { loss: "loss" optimizer { kind: "momentum" } }
)pb";

// `logistic` refuses labels other than -1 and 1, so this fails unless the
// checker draws them from the loss's range.
const char* kLogisticModel = R"pb(
graph {
  inputs { name: "x" type { dtype: F32 dims: [-1, 2] } }
  inputs { name: "y" type { dtype: F32 dims: -1 } role: LABEL }
  params { name: "w" type { dtype: F32 dims: [2, 1] } init { normal { std: 1 } } }
  nodes { op: "matmul" inputs: ["x", "w"] outputs: "f1" }
  nodes { op: "reshape" inputs: "f1" outputs: "f" attrs { key: "dims" value { ints { values: -1 } } } }
  nodes { op: "logistic" inputs: ["f", "y"] outputs: "loss" }
  outputs: "f"
}
training { loss: "loss" optimizer { kind: "sgd" } regularization { l1: 0.01 } }
)pb";

TEST(GradcheckModel, DropoutHingeAndLogisticModels) {
  for (const char* text : {kDropoutHingeModel, kLogisticModel}) {
    Model m = parse_model_text(text, "inline.pbtxt");
    auto entries = gradcheck_model(m, 3, 8, 0);
    EXPECT_FALSE(entries.empty());
    for (const auto& e : entries)
      EXPECT_LT(e.max_rel_error, kTolerance) << e.value << "[" << e.worst_index << "]: analytic " << e.analytic
                                             << ", numeric " << e.numeric;
  }
}

TEST(GradcheckModel, ModelWithoutTrainingIsRefused) {
  Model m = parse_model_text(kTinyModel, "tiny.pbtxt");
  m.training.Clear();
  EXPECT_THROW(gradcheck_model(m, 0, 2), Error);
}

TEST(GradcheckTool, PrintsATableAndSucceeds) {
  std::string dir = test::temp_dir();
  std::ofstream(dir + "/tiny.pbtxt") << kTinyModel;
  std::string out;
  int status = test::run_command(test::tool_path("dlc") + " gradcheck " + dir + "/tiny.pbtxt --batch 3 --seed 2", &out);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("max rel error"), std::string::npos) << out;
  EXPECT_NE(out.find("\nw "), std::string::npos) << out;
  EXPECT_NE(out.find("\nb "), std::string::npos) << out;
  EXPECT_NE(out.find("ok:"), std::string::npos) << out;
}

TEST(GradcheckTool, ExitsOneWhenAnErrorExceedsTheTolerance) {
  // A step of 0.9 crosses ReLU kinks and ruins the difference quotients:
  // the tool must report that rather than pass it.
  std::string out;
  int status = test::run_command(
      test::tool_path("dlc") + " gradcheck " + test::source_path("models/mlp_mnist.pbtxt") + " --eps 0.9", &out);
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("FAIL"), std::string::npos) << out;
}

TEST(GradcheckTool, RejectsABadBatch) {
  std::string out;
  int status = test::run_command(test::tool_path("dlc") + " gradcheck some.pbtxt --batch 0", &out);
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("--batch"), std::string::npos) << out;
}

}  // namespace
}  // namespace dlc
