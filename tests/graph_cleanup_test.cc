// fold_constants and cse: what they remove, what they must leave alone, and
// that every model computes the same loss, outputs and updates after them
// (the reference interpreter is the oracle).
#include <gtest/gtest.h>

#include "compiler/passes/eliminate_common_subexpressions.h"
#include "compiler/passes/fold_constants.h"
#include "compiler/passes/simplify.h"
#include "compiler/pipeline.h"
#include "frontend/model_loader.h"
#include "ir/builder.h"
#include "ir/verifier.h"
#include "reference/ref_interpreter.h"
#include "tests/kernel_test_util.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

int count_ops(const Graph& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.nodes) n += node.op == op;
  return n;
}

const Node* producer(const Graph& g, const std::string& value) {
  for (const auto& node : g.nodes)
    for (const auto& o : node.outputs)
      if (o == value) return &node;
  return nullptr;
}

/// Every value the model names from outside its nodes, by the interpreter.
std::map<std::string, Tensor> evaluate(const Model& m, uint64_t seed) {
  std::vector<std::string> wanted = m.graph.outputs;
  if (m.has_training()) wanted.push_back(m.training.loss());
  for (const auto& [state, value] : m.updates) wanted.push_back(value);
  auto results = RefInterpreter(m.graph).run(test::random_feeds(m.graph, seed, /*label_range=*/2), wanted);
  // Keyed by what they are, not by value name (cse may not rename them, but
  // the comparison should not depend on it).
  std::map<std::string, Tensor> named;
  for (const auto& o : m.graph.outputs) named["output " + o] = results.at(o);
  if (m.has_training()) named["loss"] = results.at(m.training.loss());
  for (const auto& [state, value] : m.updates) named["update " + state] = results.at(value);
  return named;
}

/// y = x * ((1 - 0.9) / 2): the scalar chain folds to one constant.
TEST(FoldConstants, ChainsOfConstantArithmeticFold) {
  Model m;
  GraphBuilder b(m.graph);
  auto x = b.input("x", {DType::f32, {2, 3}});
  auto d = b.div(b.sub(b.scalar(1.0), b.scalar(0.9)), b.scalar(2.0));
  b.output(b.mul(x, d));
  verify_or_throw(m);
  auto before = evaluate(m, 1);
  const double d_value = RefInterpreter(m.graph).run({}, {d}).at(d)[0];
  ASSERT_TRUE(FoldConstantsPass().run(m));
  verify_or_throw(m);
  const Node* folded = producer(m.graph, d);
  ASSERT_NE(folded, nullptr);
  EXPECT_EQ(folded->op, "constant");
  EXPECT_EQ(folded->attr_float("value"), d_value);  // the interpreter's own number
  EXPECT_NEAR(d_value, 0.05, 1e-7);
  EXPECT_EQ(count_ops(m.graph, "sub") + count_ops(m.graph, "div"), 0);
  EXPECT_EQ(count_ops(m.graph, "mul"), 1);  // it reads x
  auto after = evaluate(m, 1);
  EXPECT_EQ(after.at("output " + m.graph.outputs[0]).data, before.at("output " + m.graph.outputs[0]).data);
  EXPECT_FALSE(FoldConstantsPass().run(m)) << "a second run finds nothing";
}

TEST(FoldConstants, LargeResultsAndRandomOpsStay) {
  Model m;
  GraphBuilder b(m.graph);
  auto big = b.fill(2.0, {DType::f32, {FoldConstantsPass::kMaxFoldedElements + 1}});
  b.output(b.add(big, big));
  b.output(b.op("dropout", {b.fill(1.0, {DType::f32, {4}})}, {{"rate", attr_f(0.5)}}));
  verify_or_throw(m);
  EXPECT_FALSE(FoldConstantsPass().run(m));
  EXPECT_EQ(count_ops(m.graph, "add"), 1);
  EXPECT_EQ(count_ops(m.graph, "dropout"), 1);
}

TEST(Cse, DuplicateComputationsMerge) {
  Model m;
  GraphBuilder b(m.graph);
  auto x = b.input("x", {DType::f32, {2, 3}});
  auto y = b.add(b.op("exp", {x}), b.op("exp", {x}));
  b.output(b.add(y, b.scalar(1.0)));
  b.output(b.mul(y, b.scalar(1.0)));  // the same constant, made twice
  verify_or_throw(m);
  auto before = evaluate(m, 2);
  ASSERT_TRUE(EliminateCommonSubexpressionsPass().run(m));
  verify_or_throw(m);
  EXPECT_EQ(count_ops(m.graph, "exp"), 1);
  EXPECT_EQ(count_ops(m.graph, "constant"), 1);
  const Node* sum = producer(m.graph, y);
  ASSERT_NE(sum, nullptr);
  EXPECT_EQ(sum->inputs[0], sum->inputs[1]);
  auto after = evaluate(m, 2);
  for (const auto& [name, t] : before) EXPECT_EQ(after.at(name).data, t.data) << name;
  EXPECT_FALSE(EliminateCommonSubexpressionsPass().run(m)) << "a second run finds nothing";
}

TEST(Cse, NamedValuesAndRandomOpsStay) {
  Model m;
  GraphBuilder b(m.graph);
  auto x = b.input("x", {DType::f32, {4}});
  // Two graph outputs computing the same thing keep their own names.
  b.output(b.op("exp", {x}));
  b.output(b.op("exp", {x}));
  // Two dropouts of one value draw different masks.
  auto d1 = b.op("dropout", {x}, {{"rate", attr_f(0.5)}});
  auto d2 = b.op("dropout", {x}, {{"rate", attr_f(0.5)}});
  b.output(b.add(d1, d2));
  verify_or_throw(m);
  EXPECT_FALSE(EliminateCommonSubexpressionsPass().run(m));
  EXPECT_EQ(count_ops(m.graph, "exp"), 2);
  EXPECT_EQ(count_ops(m.graph, "dropout"), 2);
}

/// Every model, trained: the passes shrink the graph and change no number.
TEST(GraphCleanup, EveryModelComputesTheSameAfterIt) {
  for (const char* name : {"linear_regression", "perceptron", "logistic_regression", "softmax_regression",
                           "mlp_mnist"}) {
    SCOPED_TRACE(name);
    Model m = load_model(test::source_path(std::string("models/") + name + ".pbtxt"));
    CompileOptions opts;
    opts.batch = 4;
    opts.stop_after = "lower_optimizer";
    run_graph_passes(m, opts);
    SimplifyPass().run(m);  // what the pipeline removed before these passes existed
    verify_or_throw(m);
    size_t nodes_before = m.graph.nodes.size();
    auto before = evaluate(m, 3);
    FoldConstantsPass().run(m);
    verify_or_throw(m);
    EliminateCommonSubexpressionsPass().run(m);
    verify_or_throw(m);
    SimplifyPass().run(m);
    verify_or_throw(m);
    EXPECT_LT(m.graph.nodes.size(), nodes_before);
    auto after = evaluate(m, 3);
    ASSERT_EQ(after.size(), before.size());
    for (const auto& [what, t] : before) {
      EXPECT_LE(test::worst_error(after.at(what), t), 1e-12) << what;
    }
  }
}

}  // namespace
}  // namespace dlc
