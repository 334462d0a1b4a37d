// The verifier: one test per error kind. Each asserts the message names the
// node (or value) at fault and, for models read from text, file:line.
#include <gtest/gtest.h>

#include "frontend/model_loader.h"
#include "ir/error.h"
#include "ir/verifier.h"

namespace dlc {
namespace {

constexpr const char* kFile = "model.pbtxt";

/// A model whose graph holds `body` after two inputs: x f32[batch,3] and
/// y f32[4], and one parameter w f32[3,4].
std::string model_text(const std::string& body, const std::string& outputs = "outputs: \"out\"") {
  return "graph {\n"
         "  inputs { name: \"x\" type { dtype: F32 dims: [-1, 3] } }\n"
         "  inputs { name: \"y\" type { dtype: F32 dims: [4] } }\n"
         "  params { name: \"w\" type { dtype: F32 dims: [3, 4] } init { zeros {} } }\n" +
         body + "  " + outputs + "\n}\n";
}

/// 1-based line of the first line of `text` containing `needle`.
int line_of(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  int line = 1;
  for (size_t i = 0; i < at; ++i) line += text[i] == '\n';
  return line;
}

std::vector<std::string> verify_text(const std::string& text) {
  Model m = parse_model_text(text, kFile);
  return verify_model(m);
}

/// Expects exactly one error, containing every piece of `parts`.
void expect_one_error(const std::string& text, const std::vector<std::string>& parts) {
  std::vector<std::string> errors = verify_text(text);
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  for (const auto& p : parts) EXPECT_NE(errors[0].find(p), std::string::npos) << "want '" << p << "' in: " << errors[0];
}

std::string at_line(const std::string& text, const std::string& needle) {
  return std::string(kFile) + ":" + std::to_string(line_of(text, needle)) + ": ";
}

TEST(Verifier, ValidModelHasNoErrorsAndGetsTypes) {
  std::string text = model_text(
      "  nodes { op: \"matmul\" inputs: [\"x\", \"w\"] outputs: \"xw\" }\n"
      "  nodes { op: \"add\" inputs: [\"xw\", \"y\"] outputs: \"out\" }\n");
  Model m = parse_model_text(text, kFile);
  ASSERT_TRUE(verify_model(m).empty());
  EXPECT_EQ(m.graph.type_of("out").str(), "f32[batch,4]");
}

TEST(Verifier, UnknownOp) {
  std::string text = model_text("  nodes { op: \"frobnicate\" inputs: \"x\" outputs: \"out\" }\n");
  expect_one_error(text, {at_line(text, "frobnicate"), "node 'out'", "unknown op 'frobnicate'"});
}

TEST(Verifier, WrongArity) {
  std::string text = model_text("  nodes { name: \"sum\" op: \"add\" inputs: \"x\" outputs: \"out\" }\n");
  expect_one_error(text, {at_line(text, "\"sum\""), "node 'sum' (add)", "takes 2 input(s), got 1"});
}

TEST(Verifier, WrongNumberOfOutputs) {
  std::string text = model_text("  nodes { op: \"relu\" inputs: \"x\" outputs: [\"out\", \"extra\"] }\n");
  expect_one_error(text, {at_line(text, "extra"), "node 'out' (relu)", "1 output(s), got 2"});
}

TEST(Verifier, UndefinedValue) {
  std::string text = model_text("  nodes { op: \"relu\" inputs: \"nowhere\" outputs: \"out\" }\n");
  expect_one_error(text, {at_line(text, "nowhere"), "node 'out' (relu)", "input 'nowhere' is not defined"});
}

TEST(Verifier, ValueDefinedTwice) {
  std::string text = model_text(
      "  nodes { name: \"first\" op: \"relu\" inputs: \"x\" outputs: \"out\" }\n"
      "  nodes { name: \"second\" op: \"neg\" inputs: \"x\" outputs: \"out\" }\n");
  expect_one_error(text, {at_line(text, "second"), "node 'second' (neg)", "'out'", "already defined"});
}

TEST(Verifier, NodeRedefiningAnInput) {
  std::string text = model_text(
      "  nodes { op: \"relu\" inputs: \"y\" outputs: \"x\" }\n"
      "  nodes { op: \"relu\" inputs: \"x\" outputs: \"out\" }\n");
  expect_one_error(text, {at_line(text, "outputs: \"x\""), "node 'x' (relu)", "already defined"});
}

TEST(Verifier, Cycle) {
  std::string text = model_text(
      "  nodes { op: \"relu\" inputs: \"b\" outputs: \"a\" }\n"
      "  nodes { op: \"relu\" inputs: \"a\" outputs: \"b\" }\n"
      "  nodes { op: \"add\" inputs: [\"b\", \"y\"] outputs: \"out\" }\n");
  std::vector<std::string> errors = verify_text(text);
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_NE(errors[0].find("is part of a cycle"), std::string::npos) << errors[0];
  // The node named is one of the two on the cycle, with its own line.
  bool names_a = errors[0].find(at_line(text, "outputs: \"a\"") + "node 'a'") != std::string::npos;
  bool names_b = errors[0].find(at_line(text, "outputs: \"b\"") + "node 'b'") != std::string::npos;
  EXPECT_TRUE(names_a || names_b) << errors[0];
}

TEST(Verifier, SelfLoopIsACycle) {
  std::string text = model_text("  nodes { op: \"relu\" inputs: \"out\" outputs: \"out\" }\n");
  expect_one_error(text, {at_line(text, "relu"), "node 'out' (relu)", "cycle"});
}

TEST(Verifier, MissingAttribute) {
  std::string text = model_text("  nodes { op: \"cast\" inputs: \"x\" outputs: \"out\" }\n");
  expect_one_error(text, {at_line(text, "cast"), "node 'out' (cast)", "missing attribute 'dtype'"});
}

TEST(Verifier, MistypedAttribute) {
  std::string text = model_text(
      "  nodes { op: \"cast\" inputs: \"x\" outputs: \"out\"\n"
      "          attrs { key: \"dtype\" value { s: \"f64\" } } }\n");
  expect_one_error(text, {at_line(text, "cast"), "node 'out' (cast)", "attribute 'dtype' must be dtype"});
}

TEST(Verifier, UnknownAttribute) {
  std::string text = model_text(
      "  nodes { op: \"relu\" inputs: \"x\" outputs: \"out\"\n"
      "          attrs { key: \"slope\" value { f: 0.1 } } }\n");
  expect_one_error(text, {at_line(text, "relu"), "node 'out' (relu)", "unknown attribute 'slope'"});
}

TEST(Verifier, ShapeMismatchShowsBothShapes) {
  std::string text = model_text("  nodes { name: \"bad_add\" op: \"add\" inputs: [\"x\", \"y\"] outputs: \"out\" }\n");
  expect_one_error(text, {at_line(text, "bad_add"), "node 'bad_add' (add)", "f32[batch,3]", "f32[4]"});
}

TEST(Verifier, MatmulInnerDimMismatchShowsBothShapes) {
  std::string text = model_text("  nodes { op: \"matmul\" inputs: [\"w\", \"w\"] outputs: \"out\" }\n");
  expect_one_error(text, {at_line(text, "matmul"), "node 'out' (matmul)", "f32[3,4]"});
}

TEST(Verifier, DtypeMismatch) {
  std::string text = model_text(
      "  nodes { op: \"cast\" inputs: \"y\" outputs: \"yi\"\n"
      "          attrs { key: \"dtype\" value { dtype: I32 } } }\n"
      "  nodes { name: \"mixed\" op: \"add\" inputs: [\"y\", \"yi\"] outputs: \"out\" }\n");
  expect_one_error(text, {at_line(text, "mixed"), "node 'mixed' (add)", "f32[4]", "i32[4]"});
}

TEST(Verifier, UndefinedGraphOutput) {
  std::string text = model_text("  nodes { op: \"relu\" inputs: \"x\" outputs: \"h\" }\n", "outputs: \"ghost\"");
  expect_one_error(text, {kFile, "graph output 'ghost' is not defined"});
}

TEST(Verifier, BadDeclaredDimension) {
  std::string text =
      "graph {\n"
      "  inputs { name: \"x\" type { dtype: F32 dims: [-1, 0] } }\n"
      "  params { name: \"w\" type { dtype: F32 dims: [3, -7] } init { zeros {} } }\n"
      "  nodes { op: \"relu\" inputs: \"x\" outputs: \"out\" }\n"
      "  outputs: \"out\"\n}\n";
  std::vector<std::string> errors = verify_text(text);
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_NE(errors[0].find(at_line(text, "\"x\"") + "input 'x'"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("dimension 1 is 0"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find(at_line(text, "\"w\"") + "parameter 'w'"), std::string::npos) << errors[1];
  EXPECT_NE(errors[1].find("dimension 1 is -7"), std::string::npos) << errors[1];
}

TEST(Verifier, HugeParameterIsRejectedWithoutOverflow) {
  std::string text =
      "graph {\n"
      "  params { name: \"big\" type { dtype: F32 dims: [4294967296, 4294967296, 4294967296] } init { zeros {} } }\n"
      "  outputs: \"big\"\n}\n";
  expect_one_error(text, {"parameter 'big'", "more than 2^40 elements"});
}

TEST(Verifier, ParameterWithBatchDimension) {
  std::string text =
      "graph {\n"
      "  params { name: \"p\" type { dtype: F32 dims: [-1, 2] } init { zeros {} } }\n"
      "  outputs: \"p\"\n}\n";
  expect_one_error(text, {at_line(text, "\"p\""), "parameter 'p'", "batch dimension"});
}

TEST(Verifier, InlineDataOfTheWrongSize) {
  std::string text =
      "graph {\n"
      "  params { name: \"w\" type { dtype: F32 dims: [2, 2] } init { data { values: [1, 2, 3] } } }\n"
      "  outputs: \"w\"\n}\n";
  expect_one_error(text, {at_line(text, "\"w\""), "parameter 'w'", "3 value(s)", "f32[2,2] needs 4"});
}

TEST(Verifier, TrainingLossMustBeAScalar) {
  std::string text = model_text("  nodes { op: \"relu\" inputs: \"x\" outputs: \"out\" }\n") +
                     "training { loss: \"out\" optimizer { kind: \"sgd\" learning_rate: 0.1 } }\n";
  expect_one_error(text, {kFile, "training", "loss 'out'", "scalar", "f32[batch,3]"});
}

TEST(Verifier, TrainingLossMustExist) {
  std::string text = model_text("  nodes { op: \"relu\" inputs: \"x\" outputs: \"out\" }\n") +
                     "training { loss: \"nope\" optimizer { kind: \"sgd\" } }\n";
  expect_one_error(text, {"training", "loss 'nope' is not a value"});
}

TEST(Verifier, UnknownOptimizer) {
  std::string text = model_text(
                         "  nodes { op: \"relu\" inputs: \"x\" outputs: \"out\" }\n"
                         "  nodes { op: \"reduce_mean\" inputs: \"out\" outputs: \"loss\" }\n") +
                     "training { loss: \"loss\" optimizer { kind: \"sgdd\" } }\n";
  expect_one_error(text, {"training", "unknown optimizer kind 'sgdd'"});
}

TEST(Verifier, RegularizingAMissingParameter) {
  std::string text = model_text(
                         "  nodes { op: \"relu\" inputs: \"x\" outputs: \"out\" }\n"
                         "  nodes { op: \"reduce_mean\" inputs: \"out\" outputs: \"loss\" }\n") +
                     "training { loss: \"loss\" optimizer { kind: \"sgd\" }\n"
                     "           regularization { params: \"w9\" l2: 0.1 } }\n";
  expect_one_error(text, {"regularized parameter 'w9' does not exist"});
}

TEST(Verifier, EveryErrorInAFileIsReported) {
  std::string text = model_text(
      "  nodes { name: \"n_unknown\" op: \"frobnicate\" inputs: \"x\" outputs: \"a\" }\n"
      "  nodes { name: \"n_arity\" op: \"sub\" inputs: \"x\" outputs: \"b\" }\n"
      "  nodes { name: \"n_shape\" op: \"mul\" inputs: [\"x\", \"y\"] outputs: \"c\" }\n"
      "  nodes { name: \"n_attr\" op: \"cast\" inputs: \"x\" outputs: \"d\" }\n"
      "  nodes { name: \"n_undef\" op: \"exp\" inputs: \"ghost\" outputs: \"e\" }\n"
      "  nodes { op: \"relu\" inputs: \"x\" outputs: \"out\" }\n");
  std::vector<std::string> errors = verify_text(text);
  ASSERT_EQ(errors.size(), 5u) << ::testing::PrintToString(errors);
  std::string all;
  for (const auto& e : errors) {
    EXPECT_EQ(e.find('\n'), std::string::npos) << "one line each: " << e;
    all += e + "\n";
  }
  for (const char* node : {"n_unknown", "n_arity", "n_shape", "n_attr", "n_undef"})
    EXPECT_NE(all.find(at_line(text, node) + "node '" + node + "'"), std::string::npos) << node << " in:\n" << all;
}

TEST(Verifier, DownstreamOfABadNodeIsNotReportedAgain) {
  // One mistake gives one message: nodes fed by the bad node stay quiet.
  std::string text = model_text(
      "  nodes { op: \"frobnicate\" inputs: \"x\" outputs: \"a\" }\n"
      "  nodes { op: \"relu\" inputs: \"a\" outputs: \"b\" }\n"
      "  nodes { op: \"neg\" inputs: \"b\" outputs: \"out\" }\n");
  EXPECT_EQ(verify_text(text).size(), 1u);
}

TEST(Verifier, VerifyOrThrowJoinsAllMessages) {
  std::string text = model_text(
      "  nodes { op: \"frobnicate\" inputs: \"x\" outputs: \"a\" }\n"
      "  nodes { op: \"relu\" inputs: \"ghost\" outputs: \"out\" }\n");
  Model m = parse_model_text(text, kFile);
  try {
    verify_or_throw(m);
    FAIL() << "expected dlc::Error";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("frobnicate"), std::string::npos) << what;
    EXPECT_NE(what.find("ghost"), std::string::npos) << what;
    EXPECT_NE(what.find('\n'), std::string::npos) << what;
  }
}

TEST(Verifier, NodesAreSortedTopologically) {
  std::string text = model_text(
      "  nodes { op: \"neg\" inputs: \"h\" outputs: \"out\" }\n"
      "  nodes { op: \"relu\" inputs: \"x\" outputs: \"h\" }\n");
  Model m = parse_model_text(text, kFile);
  ASSERT_TRUE(verify_model(m).empty());
  ASSERT_EQ(m.graph.nodes.size(), 2u);
  EXPECT_EQ(m.graph.nodes[0].outputs[0], "h");
  EXPECT_EQ(m.graph.nodes[1].outputs[0], "out");
}

TEST(Verifier, GraphsBuiltInMemoryNameTheNodeWithoutALine) {
  Graph g;
  g.inputs.push_back({"x", {DType::f32, {2}}, proto::DATA, 0});
  Node n;
  n.name = "lonely";
  n.op = "frobnicate";
  n.inputs = {"x"};
  n.outputs = {"y"};
  g.nodes.push_back(n);
  std::vector<std::string> errors = verify_graph(g);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "node 'lonely' (frobnicate): unknown op 'frobnicate'");
}

}  // namespace
}  // namespace dlc
