// Gradient rules: every differentiable op against central finite differences
// (compiler/gradcheck.h) in float64, on shapes with broadcasting.
//
// Each check builds loss = reduce_sum(op(inputs) * w) with random weights w,
// so every output element contributes with its own factor. Inputs stay away
// from kinks and from outside the op's domain.
#include <set>
#include <gtest/gtest.h>

#include <cmath>

#include "compiler/gradcheck.h"
#include "compiler/passes/autodiff.h"
#include "ir/grad_util.h"
#include "ir/op_registry.h"
#include "ir/verifier.h"
#include "tests/ops_test_util.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

using test::random_tensor;
using test::tensor;

constexpr double kTolerance = 1e-6;

/// Gradient-checks `op` on `inputs` with respect to the inputs flagged in `wrt`.
void check_op(const std::string& op, const std::vector<Tensor>& inputs, const std::vector<bool>& wrt,
              const Attrs& attrs = {}, bool training = false) {
  SCOPED_TRACE(op);
  Graph g;
  GraphBuilder b(g);
  std::map<std::string, Tensor> feeds;
  std::vector<std::string> ins, checked;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string name = "x" + std::to_string(i);
    ins.push_back(b.input(name, inputs[i].type));
    feeds[name] = inputs[i];
    if (wrt[i]) checked.push_back(name);
  }
  std::string y = b.op(op, ins, attrs, "y");
  const TensorType& yt = b.type(y);
  feeds["w"] = random_tensor(yt.dims, 99, 0.5, 1.5, yt.dtype);
  std::string loss = b.reduce_sum(b.mul(y, b.input("w", yt)), {});
  verify_or_throw(g);
  GradcheckOptions opts;
  opts.ctx.training = training;  // batch_norm: the batch's statistics
  std::vector<GradcheckEntry> result = gradcheck(g, loss, checked, feeds, kGradcheckEps, opts);
  ASSERT_EQ(result.size(), checked.size());
  for (const auto& e : result)
    EXPECT_LT(e.max_rel_error, kTolerance) << e.value << " at element " << e.worst_index << ": analytic "
                                           << e.analytic << ", numeric " << e.numeric;
}

Tensor rnd(std::vector<int64_t> dims, uint64_t seed, double lo = -1, double hi = 1) {
  return random_tensor(dims, seed, lo, hi);
}

/// Uniform in ±[0.2, 1.5]: clear of the kinks at 0.
Tensor away_from_zero(std::vector<int64_t> dims, uint64_t seed) {
  Tensor t = rnd(dims, seed, 0.2, 1.5);
  for (int64_t i = 0; i < t.numel(); i += 2) t[i] = -t[i];
  return t;
}

TEST(OpGradients, BinaryElementwiseWithBroadcasting) {
  Tensor a = rnd({3, 1}, 1), c = rnd({1, 4}, 2);
  for (std::string op : {"add", "sub", "mul"}) check_op(op, {a, c}, {true, true});
  check_op("div", {a, rnd({1, 4}, 3, 0.5, 2)}, {true, true});
  check_op("pow", {rnd({3, 1}, 4, 0.5, 2), rnd({1, 4}, 5, -1.5, 2)}, {true, true});
  // Rank-extending broadcast: [4] against [2,3,4].
  check_op("mul", {rnd({4}, 6), rnd({2, 3, 4}, 7)}, {true, true});
  check_op("sub", {rnd({2, 1, 4}, 8), rnd({3, 1}, 9)}, {true, true});
}

// In training the batch's mean and variance depend on every x of the
// channel, so dx is not just gamma / sqrt(var + eps) times dy.
TEST(OpGradients, BatchNormInTrainingThroughTheBatchStatistics) {
  Tensor x = rnd({4, 3, 2, 2}, 11, -2, 2), gamma = rnd({3}, 12, 0.5, 1.5), beta = rnd({3}, 13);
  Tensor mean = rnd({3}, 14), var = rnd({3}, 15, 0.5, 2);
  check_op("batch_norm", {x, gamma, beta, mean, var}, {true, true, true, false, false}, {}, true);
  check_op("batch_norm", {rnd({5, 3}, 16, -2, 2), gamma, beta, mean, var}, {true, true, true, false, false},
           {{"epsilon", attr_f(0.1)}}, true);
}

TEST(OpGradients, FlattenIsAReshape) { check_op("flatten", {rnd({2, 3, 4}, 17)}, {true}, {{"axis", attr_i(1)}}); }

TEST(OpGradients, MaximumAndMinimumAwayFromTies) {
  // Every pair differs by at least 0.1, far more than the difference step.
  Tensor a = tensor({3, 1}, {-0.8, 0.15, 0.9});
  Tensor c = tensor({1, 4}, {-0.3, 0.4, 1.2, 0.0});
  check_op("maximum", {a, c}, {true, true});
  check_op("minimum", {a, c}, {true, true});
}

TEST(OpGradients, UnaryElementwise) {
  Tensor any = rnd({2, 3}, 11, -2, 2), positive = rnd({2, 3}, 12, 0.3, 3), kinked = away_from_zero({2, 3}, 13);
  for (std::string op : {"neg", "exp", "square", "sigmoid", "tanh", "softplus"}) check_op(op, {any}, {true});
  for (std::string op : {"log", "sqrt", "rsqrt"}) check_op(op, {positive}, {true});
  for (std::string op : {"abs", "relu"}) check_op(op, {kinked}, {true});
  for (std::string op : {"gelu", "log_sigmoid"}) check_op(op, {rnd({2, 3}, 14, -4, 4)}, {true});
  check_op("leaky_relu", {kinked}, {true});
  check_op("leaky_relu", {kinked}, {true}, {{"alpha", attr_f(0.2)}});
  check_op("elu", {kinked}, {true});
  check_op("elu", {kinked}, {true}, {{"alpha", attr_f(0.5)}});
}

TEST(OpGradients, ActivationGradientsAtZeroFollowPyTorch) {
  // leaky_relu'(0) = alpha and elu'(0) = alpha (PyTorch's x <= 0 branch); gelu'(0) = 0.5;
  // log_sigmoid'(0) = sigmoid(0) = 0.5.
  const std::vector<std::pair<std::string, double>> want = {
      {"leaky_relu", 0.01}, {"elu", 1.0}, {"gelu", 0.5}, {"log_sigmoid", 0.5}};
  for (const auto& [op, slope] : want) {
    Graph g;
    GraphBuilder b(g);
    auto x = b.input("x", {DType::f64, {1}});
    auto loss = b.reduce_sum(b.op(op, {x}), {});
    auto grads = append_gradients(g, loss, {"x"});
    auto out = RefInterpreter(g).run({{"x", tensor({1}, {0.0}, DType::f64)}}, {grads.at("x")});
    EXPECT_NEAR(out.at(grads.at("x"))[0], slope, 1e-15) << op;
  }
}

TEST(OpGradients, WhereAndCast) {
  Tensor cond({DType::boolean, {3, 1}}, {1, 0, 1});
  check_op("where", {cond, rnd({1, 4}, 21), rnd({3, 4}, 22)}, {false, true, true});
  check_op("where", {cond, rnd({3, 4}, 23), rnd({}, 24)}, {false, true, true});
  check_op("cast", {rnd({2, 3}, 25)}, {true}, {{"dtype", attr_dtype(DType::f64)}});
}

TEST(OpGradients, ShapeOps) {
  check_op("reshape", {rnd({2, 3, 4}, 31)}, {true}, {{"dims", attr_ints({6, 4})}});
  check_op("transpose", {rnd({2, 3, 4}, 32)}, {true});
  check_op("transpose", {rnd({2, 3, 4}, 33)}, {true}, {{"perm", attr_ints({1, 2, 0})}});
  check_op("broadcast_to", {rnd({3, 1}, 34)}, {true}, {{"dims", attr_ints({2, 3, 4})}});
  check_op("broadcast_to", {rnd({4}, 35)}, {true}, {{"dims", attr_ints({3, 4})}});
}

TEST(OpGradients, Reductions) {
  Tensor x = rnd({2, 3, 4}, 41);
  for (std::string op : {"reduce_sum", "reduce_mean", "reduce_max"}) {
    check_op(op, {x}, {true});
    check_op(op, {x}, {true}, {{"axes", attr_ints({1})}});
    check_op(op, {x}, {true}, {{"axes", attr_ints({0, -1})}, {"keepdims", attr_b(true)}});
  }
}

TEST(OpGradients, MatmulEveryTransposeCombination) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(std::to_string(ta) + std::to_string(tb));
      Tensor a = rnd(ta ? std::vector<int64_t>{4, 3} : std::vector<int64_t>{3, 4}, 51);
      Tensor c = rnd(tb ? std::vector<int64_t>{2, 4} : std::vector<int64_t>{4, 2}, 52);
      check_op("matmul", {a, c}, {true, true}, {{"transpose_a", attr_b(ta)}, {"transpose_b", attr_b(tb)}});
    }
}

TEST(OpGradients, SoftmaxAndLogSoftmax) {
  Tensor x = rnd({3, 4}, 61, -2, 2);
  for (std::string op : {"softmax", "log_softmax"}) {
    check_op(op, {x}, {true});
    check_op(op, {x}, {true}, {{"axis", attr_i(0)}});
  }
}

TEST(OpGradients, LogSumExpFromItsExpansion) {
  // Large values: the stop_gradient max keeps exp finite and passes no
  // gradient, so the gradient is exactly softmax.
  Tensor x = rnd({3, 4}, 62, -2, 2);
  Tensor big = rnd({2, 5}, 63, 300, 310);
  check_op("logsumexp", {x}, {true});
  check_op("logsumexp", {x}, {true}, {{"axes", attr_ints({1})}});
  check_op("logsumexp", {x}, {true}, {{"axes", attr_ints({0})}, {"keepdims", attr_b(true)}});
  check_op("logsumexp", {big}, {true}, {{"axes", attr_ints({1})}});
}

TEST(OpGradients, ClassLosses) {
  Tensor labels = tensor({4}, {2, 0, 1, 2}, DType::i32);
  check_op("softmax_cross_entropy", {rnd({4, 3}, 71, -2, 2), labels}, {true, false});
  // Scores on a grid 0.3 apart keep every hinge margin s_j - s_y + 1 clear of 0.
  Tensor scores = tensor({4, 3}, {0.1, 0.9, 1.6, -0.5, 0.7, 2.2, 1.0, -0.2, 0.4, 0.3, 1.9, -1.1});
  check_op("multiclass_hinge", {scores, labels}, {true, false});
}

TEST(OpGradients, ElementwiseLosses) {
  Tensor p = rnd({3, 2}, 81, -2, 2);
  Tensor bits = tensor({3, 2}, {1, 0, 0, 1, 1, 0});
  Tensor signs = tensor({3, 2}, {1, -1, -1, 1, 1, -1}, DType::i64);
  check_op("mse", {p, rnd({3, 2}, 82, -2, 2)}, {true, true});
  Tensor t = p;
  Tensor offsets = away_from_zero({3, 2}, 83);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] += offsets[i];  // |p - t| >= 0.2: clear of l1's kink
  check_op("l1", {p, t}, {true, true});
  check_op("sigmoid_binary_cross_entropy", {p, bits}, {true, false});
  check_op("logistic", {p, signs}, {true, false});
}

Attrs ints_attrs(std::initializer_list<std::pair<const char*, std::vector<int64_t>>> kv) {
  Attrs a;
  for (const auto& [k, v] : kv) a[k] = attr_ints(v);
  return a;
}

TEST(OpGradients, ConvolutionWithStridePaddingAndDilation) {
  check_op("conv2d", {rnd({2, 3, 6, 5}, 1), rnd({4, 3, 3, 2}, 2), rnd({4}, 3)}, {true, true, true});
  check_op("conv2d", {rnd({1, 2, 7, 7}, 4), rnd({3, 2, 3, 3}, 5)}, {true, true},
           ints_attrs({{"strides", {2, 2}}, {"pads", {1, 1}}}));
  check_op("conv2d", {rnd({1, 2, 8, 7}, 6), rnd({2, 2, 2, 3}, 7)}, {true, true},
           ints_attrs({{"strides", {3, 1}}, {"pads", {2, 0}}, {"dilations", {2, 2}}}));
  check_op("conv2d", {rnd({2, 3, 4, 4}, 8), rnd({2, 3, 1, 1}, 9)}, {true, true});
}

TEST(OpGradients, PoolingAwayFromTies) {
  // Distinct values, so every window has one maximum.
  Tensor x = rnd({2, 2, 6, 7}, 10);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<double>((i * 37) % x.numel()) / 10.0 - 4;
  check_op("max_pool2d", {x}, {true}, ints_attrs({{"kernel", {2, 2}}}));
  check_op("max_pool2d", {x}, {true}, ints_attrs({{"kernel", {3, 3}}, {"strides", {2, 2}}, {"pads", {1, 1}}}));
  check_op("avg_pool2d", {rnd({2, 2, 5, 6}, 11)}, {true}, ints_attrs({{"kernel", {3, 2}}, {"strides", {1, 2}}, {"pads", {1, 1}}}));
  // Windows that tile the image: the gradient is a transposed view, not a fold.
  Tensor even = rnd({2, 2, 6, 8}, 14);
  for (int64_t i = 0; i < even.numel(); ++i) even[i] = static_cast<double>((i * 37) % even.numel()) / 10.0 - 4;
  check_op("max_pool2d", {even}, {true}, ints_attrs({{"kernel", {2, 2}}}));
  check_op("avg_pool2d", {even}, {true}, ints_attrs({{"kernel", {3, 4}}, {"strides", {3, 4}}}));
}

TEST(OpGradients, PatchesAndTheirFoldAreAdjoint) {
  check_op("extract_patches", {rnd({1, 2, 5, 6}, 12)}, {true},
           ints_attrs({{"kernel", {2, 3}}, {"strides", {2, 1}}, {"pads", {1, 1}}, {"dilations", {2, 1}}}));
  check_op("extract_patches", {rnd({2, 3, 4, 6}, 15)}, {true}, ints_attrs({{"kernel", {2, 3}}, {"strides", {2, 3}}}));
  check_op("fold_patches", {rnd({1, 3, 3, 2, 3, 3}, 13)}, {true},
           ints_attrs({{"kernel", {3, 3}}, {"strides", {2, 2}}, {"pads", {1, 1}}, {"image", {6, 5}}}));
}

TEST(OpGradients, ConventionsAtKinks) {
  // relu'(0) = 0, abs'(0) = 0, ties of maximum go to the first operand.
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {3}});
  auto z = b.input("z", {DType::f32, {3}});
  auto loss = b.reduce_sum(b.add(b.add(b.op("relu", {x}), b.op("abs", {x})), b.op("maximum", {x, z})), {});
  verify_or_throw(g);
  auto grads = append_gradients(g, loss, {"x", "z"});
  auto out = RefInterpreter(g).run({{"x", tensor({3}, {0, 0, -1})}, {"z", tensor({3}, {0, 1, -1})}},
                                   {grads.at("x"), grads.at("z")});
  // x: relu' + abs' + [x picked]: (0+0+1, 0+0+0, 0-1+1).
  EXPECT_EQ(out.at(grads.at("x")).data, (std::vector<double>{1, 0, 0}));
  EXPECT_EQ(out.at(grads.at("z")).data, (std::vector<double>{0, 1, 0}));
}

TEST(OpGradients, NonDifferentiableOpsHaveNoRuleAndCompositesTakeTheirExpansions) {
  // all_reduce_mean: inserted after autodiff (a gradient through the other processes is undefined).
  const std::set<std::string> non_diff = {"greater", "less", "equal", "sign", "constant", "iota", "all_reduce_mean"};
  for (const std::string& op : non_diff) {
    const OpDef* def = find_op(op);
    ASSERT_NE(def, nullptr) << op;
    EXPECT_FALSE(def->grad) << op << " should have no gradient rule";
  }
  for (const auto& [name, def] : OpRegistry::get().all()) {
    if (non_diff.count(name)) continue;
    // A composite's gradient is its primitives': it has no rule of its own.
    if (def.lowering == Lowering::expansion) EXPECT_FALSE(def.grad) << name << " is a composite with its own rule";
    else EXPECT_TRUE(def.grad) << name << " has no gradient rule";
  }
}

TEST(OpGradients, ThroughArgmaxIsAnErrorNamingTheComposite) {
  // The primitive that stops the gradient is argmax's `equal`; the message
  // names the argmax node the user wrote.
  for (std::string op : {"argmax"}) {
    Graph g;
    GraphBuilder b(g);
    auto w = b.input("w", {DType::f32, {3, 4}});
    std::string v = b.op(op, {w}, {}, "am");
    auto loss = b.op("reduce_sum", {b.cast(v, DType::f32)});
    try {
      append_gradients(g, loss, {w});
      ADD_FAILURE() << op << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("node 'am' (" + op + ") is not differentiable"), std::string::npos)
          << e.what();
    }
  }
}

TEST(GradUtil, SumToShapeUndoesBroadcasting) {
  Graph g;
  GraphBuilder b(g);
  auto d = b.input("d", {DType::f32, {2, 3, 4}});
  auto s = sum_to_shape(b, d, {3, 1});
  EXPECT_EQ(b.type(s).dims, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(sum_to_shape(b, d, {2, 3, 4}), d) << "no-op when shapes match";
  auto all = sum_to_shape(b, d, {});
  Tensor x = random_tensor({2, 3, 4}, 91);
  auto out = RefInterpreter(g).run({{"d", x}}, {s, all});
  double total = 0;
  for (int j = 0; j < 3; ++j) {
    double row = 0;
    for (int i = 0; i < 2; ++i)
      for (int k = 0; k < 4; ++k) row += x[(i * 3 + j) * 4 + k];
    EXPECT_NEAR(out.at(s)[j], row, 1e-12);
    total += row;
  }
  EXPECT_NEAR(out.at(all)[0], total, 1e-12);
}

TEST(GradUtil, GradientsBuildOnBatchSymbolicGraphs) {
  // Before `--batch` binds, counts over the batch come from the graph.
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {kBatch, 5}});
  auto y = b.input("y", {DType::i32, {kBatch}}, proto::LABEL);
  auto w = b.input("w", {DType::f32, {5, 3}});
  auto loss = b.op("add", {b.op("softmax_cross_entropy", {b.matmul(x, w), y}), b.op("reduce_mean", {x})});
  verify_or_throw(g);
  auto grads = append_gradients(g, loss, {"w", "x"});
  EXPECT_EQ(g.type_of(grads.at("w")), (TensorType{DType::f32, {5, 3}}));
  EXPECT_EQ(g.type_of(grads.at("x")), (TensorType{DType::f32, {kBatch, 5}}));
}

}  // namespace
}  // namespace dlc
