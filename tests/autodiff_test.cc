#include "compiler/passes/autodiff.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>

#include "ir/builder.h"
#include "ir/error.h"
#include "ir/verifier.h"
#include "reference/ref_interpreter.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

proto::Initializer zeros_init() {
  proto::Initializer init;
  init.mutable_zeros();
  return init;
}

/// Evaluates `values` of a graph that must verify.
std::map<std::string, Tensor> eval(Graph& g, const std::map<std::string, Tensor>& feeds,
                                   const std::vector<std::string>& values) {
  verify_or_throw(g);
  return RefInterpreter(g).run(feeds, values);
}

/// The full-reduction sum of x, a scalar.
std::string sum_all(GraphBuilder& b, const std::string& x) {
  std::vector<int64_t> axes;
  for (int64_t a = 0; a < b.type(x).rank(); ++a) axes.push_back(a);
  return b.reduce_sum(x, axes);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Autodiff, FanOutGradientsAreSummed) {
  // loss = Σ x·x + Σ exp(x): x has three consumers' worth of gradient.
  Graph g;
  GraphBuilder b(g);
  auto x = b.param("x", {DType::f32, {5}}, zeros_init());
  auto loss = b.add(sum_all(b, b.mul(x, x)), sum_all(b, b.op("exp", {x})));
  size_t forward_nodes = g.nodes.size();
  auto grads = append_gradients(g, loss, {x});
  ASSERT_EQ(grads.count(x), 1u);

  int adds = 0;
  for (size_t k = forward_nodes; k < g.nodes.size(); ++k) adds += g.nodes[k].op == "add";
  EXPECT_GE(adds, 2) << "two adds sum the three contributions to x";

  Tensor xv = test::random_tensor({5}, 1);
  auto out = eval(g, {{"x", xv}}, {grads.at(x)});
  const Tensor& dx = out.at(grads.at(x));
  ASSERT_EQ(dx.type.dims, std::vector<int64_t>{5});
  for (int64_t i = 0; i < 5; ++i) EXPECT_NEAR(dx[i], 2 * xv[i] + std::exp(xv[i]), 1e-12) << i;
}

TEST(Autodiff, BroadcastIsUndoneBySumming) {
  // loss = Σ (x + bias)², bias [4] broadcast over the 3 rows of x.
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {3, 4}});
  auto bias = b.param("bias", {DType::f32, {4}}, zeros_init());
  auto loss = sum_all(b, b.op("square", {b.add(x, bias)}));
  auto grads = append_gradients(g, loss, {bias});

  Tensor xv = test::random_tensor({3, 4}, 2), bv = test::random_tensor({4}, 3);
  auto out = eval(g, {{"x", xv}, {"bias", bv}}, {grads.at(bias)});
  const Tensor& db = out.at(grads.at(bias));
  ASSERT_EQ(db.type.dims, std::vector<int64_t>{4});
  for (int64_t j = 0; j < 4; ++j) {
    double want = 0;
    for (int64_t i = 0; i < 3; ++i) want += 2 * (xv[i * 4 + j] + bv[j]);
    EXPECT_NEAR(db[j], want, 1e-12) << j;
  }
}

TEST(Autodiff, PathThroughArgmaxNamesTheNodeAndParameter) {
  Graph g;
  GraphBuilder b(g);
  auto w = b.param("w", {DType::f32, {2, 3}}, zeros_init());
  auto am = b.op("argmax", {w}, {}, "am");
  auto loss = sum_all(b, b.cast(am, DType::f32));
  std::string err = error_of([&] { append_gradients(g, loss, {w}); });
  EXPECT_NE(err.find("node 'am' (argmax) is not differentiable"), std::string::npos) << err;
  EXPECT_NE(err.find("parameter 'w'"), std::string::npos) << err;
}

TEST(Autodiff, NeededGradientOfOpWithoutRuleIsAnError) {
  // sign has no gradient rule, and the product needs one through it.
  Graph g;
  GraphBuilder b(g);
  auto w = b.param("w", {DType::f32, {3}}, zeros_init());
  auto x = b.input("x", {DType::f32, {3}});
  auto loss = sum_all(b, b.mul(b.op("sign", {w}, {}, "s"), x));
  std::string err = error_of([&] { append_gradients(g, loss, {w}); });
  EXPECT_NE(err.find("node 's' (sign) is not differentiable"), std::string::npos) << err;
}

TEST(Autodiff, EveryNonDifferentiableNodeIsNamedWithItsParameters) {
  // Two branches, each through its own sign, and one sign behind another:
  // one error lists all three, each with the parameters behind it.
  Graph g;
  GraphBuilder b(g);
  auto a = b.param("a", {DType::f32, {3}}, zeros_init());
  auto c = b.param("c", {DType::f32, {3}}, zeros_init());
  auto x = b.input("x", {DType::f32, {3}});
  auto t = b.op("sign", {b.mul(a, x)}, {}, "t");
  auto u = b.op("sign", {b.op("sign", {b.add(a, c)}, {}, "inner")}, {}, "u");
  auto loss = sum_all(b, b.add(t, u));
  std::string err = error_of([&] { append_gradients(g, loss, {a, c}); });
  EXPECT_NE(err.find("node 't' (sign) is not differentiable; the loss depends on parameter 'a' through it"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("node 'inner' (sign) is not differentiable; the loss depends on parameter 'a' and parameter "
                     "'c' through it"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("node 'u' (sign) is not differentiable; the loss depends on parameter 'a' and parameter 'c' "
                     "through it"),
            std::string::npos)
      << err;
}

TEST(Autodiff, ConditionOfWhereNeedsNoGradient) {
  // w reaches the loss through both where's condition (no gradient, fine)
  // and its first branch (differentiated): d/dw Σ where(w > 0, w·x, 0).
  Graph g;
  GraphBuilder b(g);
  auto w = b.param("w", {DType::f32, {6}}, zeros_init());
  auto x = b.input("x", {DType::f32, {6}});
  auto cond = b.op("greater", {w, b.scalar(0.0)});
  auto loss = sum_all(b, b.op("where", {cond, b.mul(w, x), b.scalar(0.0)}));
  auto grads = append_gradients(g, loss, {w});
  Tensor wv = test::random_tensor({6}, 4), xv = test::random_tensor({6}, 5);
  auto out = eval(g, {{"w", wv}, {"x", xv}}, {grads.at(w)});
  for (int64_t i = 0; i < 6; ++i) EXPECT_NEAR(out.at(grads.at(w))[i], wv[i] > 0 ? xv[i] : 0.0, 1e-12) << i;
}

TEST(Autodiff, UnusedParameterGetsZeros) {
  Graph g;
  GraphBuilder b(g);
  auto w = b.param("w", {DType::f32, {3}}, zeros_init());
  auto unused = b.param("unused", {DType::f32, {2, 2}}, zeros_init());
  auto loss = sum_all(b, b.op("tanh", {w}));
  auto grads = append_gradients(g, loss, {w, unused});
  ASSERT_EQ(g.type_of(grads.at(unused)), g.type_of(unused));
  Tensor uv = test::random_tensor({2, 2}, 6);
  auto out = eval(g, {{"w", test::random_tensor({3}, 7)}, {"unused", uv}}, {grads.at(unused)});
  for (double v : out.at(grads.at(unused)).data) EXPECT_EQ(v, 0.0);
}

TEST(Autodiff, OnlyNodesOnTheWayToTheParametersAreEmitted) {
  // matmul's rule emits gradients for both operands; x's is dead and removed.
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {4, 3}});
  auto w = b.param("w", {DType::f32, {3, 2}}, zeros_init());
  auto loss = sum_all(b, b.op("sigmoid", {b.matmul(x, w)}));
  size_t forward_nodes = g.nodes.size();
  auto grads = append_gradients(g, loss, {w});
  std::set<std::string> used{grads.at(w)};
  for (const auto& n : g.nodes) used.insert(n.inputs.begin(), n.inputs.end());
  for (size_t k = forward_nodes; k < g.nodes.size(); ++k)
    for (const auto& o : g.nodes[k].outputs) EXPECT_TRUE(used.count(o)) << "dead gradient node " << o;
  int matmuls = 0;
  for (size_t k = forward_nodes; k < g.nodes.size(); ++k) matmuls += g.nodes[k].op == "matmul";
  EXPECT_EQ(matmuls, 1) << "only dW = xᵀ·dy";
}

TEST(Autodiff, LossItselfAsParameterGetsTheSeed) {
  Graph g;
  GraphBuilder b(g);
  auto w = b.param("w", {DType::f32, {}}, zeros_init());
  auto grads = append_gradients(g, w, {w});
  auto out = eval(g, {{"w", Tensor::scalar(3.0)}}, {grads.at(w)});
  EXPECT_EQ(out.at(grads.at(w))[0], 1.0);
}

TEST(Autodiff, IntegerWrtValueIsRejected) {
  Graph g;
  GraphBuilder b(g);
  auto k = b.input("k", {DType::i32, {3}});
  auto loss = sum_all(b, b.cast(k, DType::f32));
  std::string err = error_of([&] { append_gradients(g, loss, {k}); });
  EXPECT_NE(err.find("input 'k'"), std::string::npos) << err;
}

Model small_training_model() {
  Model m;
  GraphBuilder b(m.graph);
  auto x = b.input("x", {DType::f32, {kBatch, 3}});
  auto y = b.input("y", {DType::i32, {kBatch}}, proto::LABEL);
  auto w = b.param("w", {DType::f32, {3, 4}}, zeros_init());
  auto bias = b.param("b", {DType::f32, {4}}, zeros_init());
  b.param("w.m", {DType::f32, {3, 4}}, zeros_init(), /*frozen=*/true);
  auto logits = b.add(b.matmul(x, w), bias);
  b.output(logits);
  auto loss = b.op("softmax_cross_entropy", {logits, y}, {}, "loss");
  m.training.set_loss(loss);
  m.training.mutable_optimizer()->set_kind("sgd");
  return m;
}

TEST(AutodiffPass, FillsGradientsOfTrainableParametersAndVerifies) {
  Model m = small_training_model();
  AutodiffPass pass;
  EXPECT_EQ(pass.name(), "autodiff");
  EXPECT_TRUE(pass.run(m));
  EXPECT_EQ(m.gradients.size(), 2u) << "w and b; the frozen w.m is state, not trained";
  EXPECT_EQ(m.gradients.at("w"), "w.grad");
  EXPECT_EQ(m.gradients.at("b"), "b.grad");
  std::vector<std::string> errors = verify_model(m);
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(m.graph.type_of("w.grad"), m.graph.type_of("w"));
  EXPECT_EQ(m.graph.type_of("b.grad"), m.graph.type_of("b"));

  size_t nodes = m.graph.nodes.size();
  EXPECT_FALSE(pass.run(m)) << "a second run has nothing to add";
  EXPECT_EQ(m.graph.nodes.size(), nodes);
}

TEST(AutodiffPass, ModelWithoutTrainingIsUnchanged) {
  Model m = small_training_model();
  m.training.Clear();
  size_t nodes = m.graph.nodes.size();
  EXPECT_FALSE(AutodiffPass().run(m));
  EXPECT_EQ(m.graph.nodes.size(), nodes);
  EXPECT_TRUE(m.gradients.empty());
}

TEST(AutodiffPass, ErrorNamesSourceLine) {
  Model m;
  m.source = "bad.pbtxt";
  GraphBuilder b(m.graph);
  auto w = b.param("w", {DType::f32, {2, 3}}, zeros_init());
  auto am = b.op("argmax", {w}, {}, "am");
  m.graph.nodes.back().line = 7;
  auto loss = sum_all(b, b.cast(am, DType::f32));
  m.training.set_loss(loss);
  m.training.mutable_optimizer()->set_kind("sgd");
  std::string err = error_of([&] { AutodiffPass().run(m); });
  EXPECT_EQ(err.rfind("bad.pbtxt:7: node 'am' (argmax)", 0), 0u) << err;
}

}  // namespace
}  // namespace dlc
