// The C++ model-building API: layer shapes and parameters, values computed
// through the reference interpreter, and errors at build time.
#include <gtest/gtest.h>

#include <cmath>

#include "frontend/layers.h"
#include "frontend/model_loader.h"
#include "ir/error.h"
#include "ir/initializers.h"
#include "ir/verifier.h"
#include "reference/ref_interpreter.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

/// Binds the batch dimension of every input to `n` and re-infers types, as
/// `dlc compile --batch` does, so the interpreter can run the graph.
void bind_batch_for_test(Graph& g, int64_t n) {
  for (auto& i : g.inputs)
    for (auto& d : i.type.dims)
      if (d == kBatch) d = n;
  verify_or_throw(g);
}

/// Feeds every parameter its initial value (seed 0).
std::map<std::string, Tensor> param_feeds(const Graph& g) {
  std::map<std::string, Tensor> feeds;
  for (const auto& p : g.params) feeds[p.name] = initialize_parameter(p, 0);
  return feeds;
}

const Parameter& param(const Graph& g, const std::string& name) {
  const Parameter* p = g.find_param(name);
  if (!p) throw std::logic_error("no parameter " + name);
  return *p;
}

TEST(Layers, DenseCreatesWeightAndBias) {
  Graph g;
  GraphBuilder b(g);
  std::string x = data_input(b, "x", {784});
  EXPECT_EQ(b.type(x).str(), "f32[batch,784]");
  std::string h = dense(b, x, 256, "fc1", init_he());
  EXPECT_EQ(h, "fc1");
  EXPECT_EQ(b.type(h).str(), "f32[batch,256]");
  ASSERT_EQ(g.params.size(), 2u);
  EXPECT_EQ(param(g, "fc1.w").type.str(), "f32[784,256]");
  EXPECT_TRUE(param(g, "fc1.w").init.has_he());
  EXPECT_EQ(param(g, "fc1.b").type.str(), "f32[256]");
  EXPECT_TRUE(param(g, "fc1.b").init.has_zeros());
}

TEST(Layers, DenseWithoutBiasHasOnlyAWeight) {
  Graph g;
  GraphBuilder b(g);
  std::string y = dense(b, data_input(b, "x", {3}), 2, "proj", init_xavier(), /*bias=*/false);
  EXPECT_EQ(g.params.size(), 1u);
  EXPECT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(b.type(y).str(), "f32[batch,2]");
}

TEST(Layers, DenseComputesXWPlusB) {
  Graph g;
  GraphBuilder b(g);
  std::string x = data_input(b, "x", {3});
  // W is [3,2] row-major: column j holds the weights of output j.
  b.output(dense(b, x, 2, "fc", init_data({1, 2, 3, 4, 5, 6})));
  g.params[1].init = init_data({0.5, -1});
  bind_batch_for_test(g, 2);
  auto feeds = param_feeds(g);
  feeds["x"] = Tensor({DType::f32, {2, 3}}, {1, 0, -1, 2, 1, 0});
  Tensor y = RefInterpreter(g).run(feeds, {"fc"}).at("fc");
  ASSERT_EQ(y.type.dims, (std::vector<int64_t>{2, 2}));
  // Row 0: (1 - 5, 2 - 6) + b; row 1: (2 + 3, 4 + 4) + b.
  EXPECT_DOUBLE_EQ(y[0], 1 * 1 + 0 * 3 + -1 * 5 + 0.5);
  EXPECT_DOUBLE_EQ(y[1], 1 * 2 + 0 * 4 + -1 * 6 - 1);
  EXPECT_DOUBLE_EQ(y[2], 2 * 1 + 1 * 3 + 0.5);
  EXPECT_DOUBLE_EQ(y[3], 2 * 2 + 1 * 4 - 1);
}

TEST(Layers, PerceptronOfTheCourseNotes) {
  // y = g(1 + 3*x1 - 2*x2) at x = (-1, 2) is sigmoid(-6).
  Graph g;
  GraphBuilder b(g);
  std::string z = dense(b, data_input(b, "x", {2}), 1, "p", init_data({3, -2}));
  g.params[1].init = init_data({1});
  b.output(sigmoid(b, z, "y"));
  bind_batch_for_test(g, 1);
  auto feeds = param_feeds(g);
  feeds["x"] = Tensor({DType::f32, {1, 2}}, {-1, 2});
  double y = RefInterpreter(g).run(feeds, {"y"}).at("y")[0];
  EXPECT_NEAR(y, 1 / (1 + std::exp(6.0)), 1e-7);
  EXPECT_NEAR(y, 0.0025, 1e-4);
}

TEST(Layers, MlpMatchesTheExampleModelFile) {
  Model m;
  GraphBuilder b(m.graph);
  std::string x = data_input(b, "x", {784});
  std::string labels = label_input(b, "label");
  std::string logits = mlp(b, x, {256, 256, 10});
  b.output(softmax(b, logits, -1, "probs"));
  set_training(m, softmax_cross_entropy(b, logits, labels, "loss"), adam(1e-3));
  ASSERT_TRUE(verify_model(m).empty());

  Model file = load_model(test::source_path("models/mlp_mnist.pbtxt"));
  verify_or_throw(file);
  auto shapes = [](const Graph& g) {
    std::vector<std::string> s;
    for (const auto& p : g.params) s.push_back(p.type.str() + (p.init.has_he() ? " he" : " zeros"));
    return s;
  };
  EXPECT_EQ(shapes(m.graph), shapes(file.graph));
  EXPECT_EQ(m.graph.type_of("probs"), file.graph.type_of("probs"));
  EXPECT_EQ(m.graph.type_of("loss").str(), "f32[]");
  int relus = 0;
  for (const auto& n : m.graph.nodes) relus += n.op == "relu";
  EXPECT_EQ(relus, 2);  // between layers, not after the logits
  EXPECT_EQ(m.graph.inputs[1].role, proto::LABEL);
  EXPECT_EQ(m.training.optimizer().kind(), "adam");
  EXPECT_DOUBLE_EQ(m.training.optimizer().beta2(), 0.999);
}

TEST(Layers, SoftmaxRowsSumToOne) {
  Graph g;
  GraphBuilder b(g);
  b.output(softmax(b, data_input(b, "x", {3}), -1, "p"));
  bind_batch_for_test(g, 2);
  Tensor p = RefInterpreter(g).run({{"x", Tensor({DType::f32, {2, 3}}, {1, 2, 3, 999, 0, -2})}}, {"p"}).at("p");
  EXPECT_NEAR(p[0], 0.090, 1e-3);
  EXPECT_NEAR(p[1], 0.245, 1e-3);
  EXPECT_NEAR(p[2], 0.665, 1e-3);
  EXPECT_NEAR(p[3], 1.0, 1e-12);
  EXPECT_NEAR(p[0] + p[1] + p[2], 1.0, 1e-12);
}

TEST(Layers, EveryLossIsAScalar) {
  Graph g;
  GraphBuilder b(g);
  std::string scores = data_input(b, "s", {4});
  std::string classes = label_input(b, "c");
  std::string pred = data_input(b, "p", {1});
  std::string target = label_input(b, "t", DType::f32, {1});
  for (const std::string& loss :
       {softmax_cross_entropy(b, scores, classes), multiclass_hinge(b, scores, classes),
        sigmoid_binary_cross_entropy(b, pred, target), mse(b, pred, target), l1(b, pred, target),
        logistic(b, pred, target)})
    EXPECT_EQ(b.type(loss).str(), "f32[]") << loss;
}

TEST(Layers, CrossEntropyOfTheNotesCatColumn) {
  // Scores (3.2, 5.1, -1.7), true class cat (0): -log(softmax[0]) ~ 2.04.
  Graph g;
  GraphBuilder b(g);
  std::string loss = softmax_cross_entropy(b, data_input(b, "s", {3}), label_input(b, "c"), "loss");
  std::string hinge = multiclass_hinge(b, "s", "c", "hinge");
  bind_batch_for_test(g, 1);
  auto out = RefInterpreter(g).run({{"s", Tensor({DType::f32, {1, 3}}, {3.2, 5.1, -1.7})},
                                    {"c", Tensor({DType::i32, {1}}, {0})}},
                                   {loss, hinge});
  EXPECT_NEAR(out.at("loss")[0], 2.04, 0.01);
  EXPECT_NEAR(out.at("hinge")[0], 2.9, 1e-9);
}

TEST(Layers, DropoutIsTheIdentityOutsideTraining) {
  Graph g;
  GraphBuilder b(g);
  b.output(dropout(b, data_input(b, "x", {4}), 0.5, "d"));
  bind_batch_for_test(g, 1);
  Tensor x({DType::f32, {1, 4}}, {1, -2, 3, -4});
  EXPECT_EQ(RefInterpreter(g).run({{"x", x}}, {"d"}).at("d").data, x.data);
}

TEST(Layers, ActivationByName) {
  Graph g;
  GraphBuilder b(g);
  std::string x = data_input(b, "x", {2});
  EXPECT_EQ(g.nodes.size(), 0u);
  activation(b, "softplus", x, "sp");
  tanh(b, x, "th");
  relu(b, x, "r");
  log_softmax(b, x, 1, "ls");
  ASSERT_EQ(g.nodes.size(), 4u);
  EXPECT_EQ(g.nodes[0].op, "softplus");
  EXPECT_EQ(g.nodes[1].op, "tanh");
  EXPECT_EQ(g.nodes[2].op, "relu");
  EXPECT_EQ(g.nodes[3].op, "log_softmax");
  EXPECT_EQ(g.nodes[3].attr_int("axis"), 1);
  EXPECT_THROW(activation(b, "no_such_activation", x), Error);
}

TEST(Layers, ShapeErrorsAreThrownWhileBuilding) {
  Graph g;
  GraphBuilder b(g);
  std::string scores = data_input(b, "s", {4});
  std::string float_labels = label_input(b, "y", DType::f32);
  try {
    softmax_cross_entropy(b, scores, float_labels, "ce");
    FAIL() << "expected dlc::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'ce'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("f32[batch]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dense(b, b.scalar(1.0), 3, "from_scalar"), Error);
  EXPECT_THROW(dense(b, scores, 0, "no_units"), Error);
}

TEST(Layers, Initializers) {
  EXPECT_TRUE(init_zeros().has_zeros());
  EXPECT_DOUBLE_EQ(init_constant(0.3).constant().value(), 0.3);
  EXPECT_DOUBLE_EQ(init_normal(0.02, 1).normal().std(), 0.02);
  EXPECT_DOUBLE_EQ(init_normal(0.02, 1).normal().mean(), 1);
  EXPECT_DOUBLE_EQ(init_uniform(-1, 2).uniform().hi(), 2);
  EXPECT_TRUE(init_xavier().has_xavier());
  EXPECT_EQ(init_data({1, 2, 3}).data().values_size(), 3);
}

TEST(Layers, Optimizers) {
  proto::Optimizer s = sgd(0.1);
  EXPECT_EQ(s.kind(), "sgd");
  EXPECT_DOUBLE_EQ(s.learning_rate(), 0.1);
  EXPECT_FALSE(s.has_momentum());
  proto::Optimizer mo = momentum(0.01, 0.8);
  EXPECT_EQ(mo.kind(), "momentum");
  EXPECT_DOUBLE_EQ(mo.momentum(), 0.8);
  proto::Optimizer a = adam(1e-3);
  EXPECT_EQ(a.kind(), "adam");
  EXPECT_DOUBLE_EQ(a.beta1(), 0.9);
  EXPECT_DOUBLE_EQ(a.epsilon(), 1e-8);
}

}  // namespace
}  // namespace dlc
