// The text printer: golden text for whole models, and the pieces it is made of.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "frontend/model_loader.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

Model verified(const std::string& text) {
  Model m = parse_model_text(text, "p.pbtxt");
  verify_or_throw(m);
  return m;
}

TEST(Printer, GoldenTextOfASmallTrainingModel) {
  Model m = verified(R"(
graph {
  inputs { name: "x" type { dtype: F32 dims: [-1, 4] } }
  inputs { name: "label" type { dtype: I32 dims: [-1] } role: LABEL }
  params { name: "w" type { dtype: F32 dims: [3, 4] } init { xavier {} } }
  params { name: "b" type { dtype: F32 dims: [3] } init { constant { value: 0.5 } } }
  params { name: "m" type { dtype: F32 dims: [3] } init { zeros {} } frozen: true }
  nodes { name: "dense" op: "matmul" inputs: ["x", "w"] outputs: "xw"
          attrs { key: "transpose_b" value { b: true } } }
  nodes { op: "add" inputs: ["xw", "b"] outputs: "logits" }
  nodes { op: "relu" inputs: "logits" outputs: "h" }
  nodes { op: "softmax" inputs: "h" outputs: "probs" attrs { key: "axis" value { i: -1 } } }
  nodes { op: "softmax_cross_entropy" inputs: ["logits", "label"] outputs: "loss" }
  outputs: "probs"
}
training {
  loss: "loss"
  optimizer { kind: "momentum" learning_rate: 0.05 momentum: 0.9 }
  regularization { params: ["w"] l2: 0.0001 }
  regularization { l1: 0.01 }
}
)");
  // Nodes print in the verifier's topological order: the loss was ready
  // before the softmax that was written ahead of it.
  EXPECT_EQ(print_model(m),
            "input %x : f32[batch,4]\n"
            "input %label : i32[batch] (label)\n"
            "param %w : f32[3,4] = xavier\n"
            "param %b : f32[3] = constant(0.5)\n"
            "param %m : f32[3] = zeros (frozen)\n"
            "%xw = matmul(%x, %w) {transpose_b=true} : f32[batch,3]  # node 'dense'\n"
            "%logits = add(%xw, %b) : f32[batch,3]\n"
            "%h = relu(%logits) : f32[batch,3]\n"
            "%loss = softmax_cross_entropy(%logits, %label) : f32[]\n"
            "%probs = softmax(%h) {axis=-1} : f32[batch,3]\n"
            "output %probs : f32[batch,3]\n"
            "training loss=%loss optimizer=momentum {learning_rate=0.05, momentum=0.9}\n"
            "regularize l2=0.0001 on %w\n"
            "regularize l1=0.01 on every trainable parameter\n");
}

TEST(Printer, GoldenTextOfTheExampleMlp) {
  Model m = load_model(test::source_path("models/mlp_mnist.pbtxt"));
  verify_or_throw(m);
  EXPECT_EQ(print_graph(m.graph),
            "input %x : f32[batch,784]\n"
            "input %label : i32[batch] (label)\n"
            "param %W1 : f32[784,256] = he\n"
            "param %b1 : f32[256] = zeros\n"
            "param %W2 : f32[256,256] = he\n"
            "param %b2 : f32[256] = zeros\n"
            "param %W3 : f32[256,10] = he\n"
            "param %b3 : f32[10] = zeros\n"
            "%xW1 = matmul(%x, %W1) : f32[batch,256]\n"
            "%z1 = add(%xW1, %b1) : f32[batch,256]\n"
            "%h1 = relu(%z1) : f32[batch,256]\n"
            "%h1W2 = matmul(%h1, %W2) : f32[batch,256]\n"
            "%z2 = add(%h1W2, %b2) : f32[batch,256]\n"
            "%h2 = relu(%z2) : f32[batch,256]\n"
            "%h2W3 = matmul(%h2, %W3) : f32[batch,10]\n"
            "%logits = add(%h2W3, %b3) : f32[batch,10]\n"
            "%probs = softmax(%logits) {axis=-1} : f32[batch,10]\n"
            "%loss = softmax_cross_entropy(%logits, %label) : f32[]\n"
            "output %probs : f32[batch,10]\n");
}

TEST(Printer, UntypedValuesShowAQuestionMark) {
  // Printing before verification must work: --dump-after of a pass that
  // broke the graph prints what it left.
  Model m = parse_model_text(R"(
graph {
  inputs { name: "x" type { dtype: F64 dims: [2] } }
  nodes { op: "frobnicate" inputs: "x" outputs: ["a", "b"] }
  outputs: "a"
})", "u.pbtxt");
  EXPECT_EQ(print_graph(m.graph),
            "input %x : f64[2]\n"
            "%a, %b = frobnicate(%x) : ?, ?\n"
            "output %a : ?\n");
}

TEST(Printer, ModelWithoutTrainingPrintsTheGraphOnly) {
  Model m = verified(R"(
graph {
  inputs { name: "x" type { dtype: F32 dims: [2] } role: STEP }
  nodes { op: "neg" inputs: "x" outputs: "y" }
  outputs: "y"
})");
  EXPECT_EQ(print_model(m), print_graph(m.graph));
  EXPECT_EQ(print_graph(m.graph), "input %x : f32[2] (step)\n%y = neg(%x) : f32[2]\noutput %y : f32[2]\n");
}

TEST(Printer, GradientsAndUpdatesFilledByPassesArePrinted) {
  Model m = verified(R"(
graph {
  params { name: "w" type { dtype: F32 dims: [2] } init { zeros {} } }
  nodes { op: "reduce_sum" inputs: "w" outputs: "loss" }
  nodes { op: "neg" inputs: "w" outputs: "w_next" }
  outputs: "loss"
}
training { loss: "loss" optimizer { kind: "sgd" } })");
  m.gradients["w"] = "grad.w";
  m.updates.emplace_back("w", "w_next");
  std::string text = print_model(m);
  EXPECT_NE(text.find("training loss=%loss optimizer=sgd\n"), std::string::npos) << text;
  EXPECT_NE(text.find("gradient %w = %grad.w\n"), std::string::npos) << text;
  EXPECT_NE(text.find("update %w := %w_next\n"), std::string::npos) << text;
}

TEST(Printer, Initializers) {
  proto::Initializer i;
  EXPECT_EQ(print_initializer(i), "none");
  i.mutable_normal()->set_std(0.01);
  EXPECT_EQ(print_initializer(i), "normal(mean=0, std=0.01)");
  i.mutable_uniform()->set_lo(-0.25);
  i.mutable_uniform()->set_hi(0.25);
  EXPECT_EQ(print_initializer(i), "uniform(-0.25, 0.25)");
  i.mutable_he();
  EXPECT_EQ(print_initializer(i), "he");
  for (int k = 0; k < 3; ++k) i.mutable_data()->add_values(k * 1.5);
  EXPECT_EQ(print_initializer(i), "data[0, 1.5, 3]");
  for (int k = 3; k < 20; ++k) i.mutable_data()->add_values(k);
  EXPECT_EQ(print_initializer(i), "data[0, 1.5, 3, 3, 4, 5, 6, 7, ... (20 values)]");
}

TEST(Printer, AttributeValues) {
  EXPECT_EQ(print_attr_value(attr_i(-3)), "-3");
  EXPECT_EQ(print_attr_value(attr_f(0.25)), "0.25");
  EXPECT_EQ(print_attr_value(attr_f(2)), "2.0");  // a float stays visibly a float
  EXPECT_EQ(print_attr_value(attr_f(1e-8)), "1e-08");
  EXPECT_EQ(print_attr_value(attr_b(false)), "false");
  EXPECT_EQ(print_attr_value(attr_s("same")), "\"same\"");
  EXPECT_EQ(print_attr_value(attr_ints({0, -1, 2})), "[0,-1,2]");
  EXPECT_EQ(print_attr_value(attr_dtype(DType::i64)), "i64");
  proto::AttrValue floats;
  floats.mutable_floats()->add_values(0.5);
  floats.mutable_floats()->add_values(-2);
  EXPECT_EQ(print_attr_value(floats), "[0.5,-2]");
  EXPECT_EQ(print_attr_value(proto::AttrValue()), "<unset>");
}

TEST(Printer, NumbersPrintShortestAndReadBack) {
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(format_number(1e-3), "0.001");
  EXPECT_EQ(format_number(-7), "-7");
  EXPECT_EQ(format_number(1e-4), "0.0001");
  EXPECT_EQ(format_number(1e-8), "1e-08");
  EXPECT_EQ(format_number(2e21), "2e+21");
  EXPECT_EQ(format_number(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_TRUE(std::isnan(std::stod(format_number(std::nan("")))));
  for (double v : {1.0 / 3.0, 2.5e-17, 123456789.123, -0.0072973525693})
    EXPECT_EQ(std::stod(format_number(v)), v) << format_number(v);
}

TEST(Printer, OptimizerShowsOnlyTheHyperParametersThatAreSet) {
  proto::Optimizer o;
  EXPECT_EQ(print_optimizer(o), "(none)");
  o.set_kind("adamw");
  o.set_weight_decay(0.01);
  o.set_beta2(0.98);
  EXPECT_EQ(print_optimizer(o), "adamw {beta2=0.98, weight_decay=0.01}");
}

}  // namespace
}  // namespace dlc
