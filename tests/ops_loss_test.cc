// Losses: softmax_cross_entropy, multiclass_hinge, sigmoid_binary_cross_entropy,
// mse, l1, logistic.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/ops_test_util.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

using test::contains_all;
using test::infer_type;
using test::run_op;
using test::shape_error;
using test::tensor;

const TensorType f32(std::vector<int64_t> dims) { return {DType::f32, std::move(dims)}; }
const TensorType i32(std::vector<int64_t> dims) { return {DType::i32, std::move(dims)}; }

double run_loss(const std::string& op, const Tensor& a, const Tensor& b) { return run_op(op, {a, b})[0]; }

/// Expects the loss op to reject `labels` at run time, naming the node and `bad`.
void expect_label_error(const std::string& op, const Tensor& a, const Tensor& labels, const std::string& bad) {
  try {
    run_op(op, {a, labels}, {}, "the_loss");
    ADD_FAILURE() << op << ": expected a label error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains_all(e.what(), {"'the_loss'", bad})) << e.what();
  }
}

TEST(LossOps, CourseNotesCatColumn) {
  // Scores of the notes' cat image: cat 3.2, car 5.1, frog -1.7; true class cat.
  Tensor scores = tensor({1, 3}, {3.2, 5.1, -1.7});
  Tensor cat = tensor({1}, {0}, DType::i32);
  EXPECT_NEAR(run_loss("multiclass_hinge", scores, cat), 2.9, 1e-12);
  EXPECT_NEAR(run_loss("softmax_cross_entropy", scores, cat), -std::log(0.13), 0.01);
  EXPECT_NEAR(run_loss("softmax_cross_entropy", scores, cat), 2.04, 0.01);
}

TEST(LossOps, ClassLossesAgainstLoops) {
  const int64_t n = 5, c = 4;
  Tensor s = test::random_tensor({n, c}, 21, -2, 2);
  Tensor y = tensor({n}, {3, 0, 1, 3, 2}, DType::i64);
  double ce = 0, hinge = 0;
  for (int64_t r = 0; r < n; ++r) {
    int64_t t = static_cast<int64_t>(y[r]);
    double z = 0;
    for (int64_t j = 0; j < c; ++j) z += std::exp(s[r * c + j]);
    ce += -std::log(std::exp(s[r * c + t]) / z);
    for (int64_t j = 0; j < c; ++j)
      if (j != t) hinge += std::max(0.0, s[r * c + j] - s[r * c + t] + 1);
  }
  EXPECT_NEAR(run_loss("softmax_cross_entropy", s, y), ce / n, 1e-12);
  EXPECT_NEAR(run_loss("multiclass_hinge", s, y), hinge / n, 1e-12);
}

TEST(LossOps, CrossEntropyStableForHugeLogits) {
  Tensor s = tensor({2, 3}, {1000, 0, -1000, 1000, 0, -1000});
  Tensor y = tensor({2}, {0, 2}, DType::i32);
  // Row 0: ~0; row 1: logsumexp = 1000, minus -1000 = 2000.
  EXPECT_NEAR(run_loss("softmax_cross_entropy", s, y), 1000, 1e-9);
}

TEST(LossOps, ClassLabelOutOfRangeNamesNodeAndLabel) {
  Tensor s = test::random_tensor({3, 4}, 5);
  for (std::string op : {"softmax_cross_entropy", "multiclass_hinge"}) {
    SCOPED_TRACE(op);
    expect_label_error(op, s, tensor({3}, {0, 4, 1}, DType::i32), "label 4");
    expect_label_error(op, s, tensor({3}, {0, 1, -1}, DType::i32), "label -1");
  }
}

TEST(LossOps, ClassLossShapeRule) {
  for (std::string op : {"softmax_cross_entropy", "multiclass_hinge"}) {
    SCOPED_TRACE(op);
    EXPECT_EQ(infer_type(op, {f32({kBatch, 10}), i32({kBatch})}), f32({}));
    EXPECT_TRUE(contains_all(shape_error(op, {f32({4, 10}), i32({5})}), {"'bad'", "f32[4,10]", "i32[5]"}));
    EXPECT_TRUE(contains_all(shape_error(op, {f32({kBatch, 10}), i32({4})}), {"'bad'", "f32[batch,10]", "i32[4]"}));
    EXPECT_TRUE(contains_all(shape_error(op, {f32({4, 10}), f32({4})}), {"'bad'", "f32[4]"}));
    EXPECT_TRUE(contains_all(shape_error(op, {f32({10}), i32({10})}), {"'bad'", "f32[10]"}));
  }
}

TEST(LossOps, ElementwiseLossesAgainstLoops) {
  Tensor p = test::random_tensor({3, 2}, 31, -3, 3);
  Tensor t = test::random_tensor({3, 2}, 32, -3, 3);
  Tensor bits = tensor({3, 2}, {1, 0, 0, 1, 1, 1});
  Tensor signs = tensor({3, 2}, {1, -1, -1, 1, 1, -1}, DType::i32);
  double mse = 0, l1 = 0, bce = 0, logistic = 0;
  for (int64_t e = 0; e < 6; ++e) {
    mse += (p[e] - t[e]) * (p[e] - t[e]);
    l1 += std::fabs(p[e] - t[e]);
    double sig = 1 / (1 + std::exp(-p[e]));
    bce += -(bits[e] * std::log(sig) + (1 - bits[e]) * std::log(1 - sig));
    logistic += std::log(1 + std::exp(-signs[e] * p[e]));
  }
  EXPECT_NEAR(run_loss("mse", p, t), mse / 6, 1e-12);
  EXPECT_NEAR(run_loss("l1", p, t), l1 / 6, 1e-12);
  EXPECT_NEAR(run_loss("sigmoid_binary_cross_entropy", p, bits), bce / 6, 1e-12);
  EXPECT_NEAR(run_loss("logistic", p, signs), logistic / 6, 1e-12);
  Tensor int_bits = bits;
  int_bits.type.dtype = DType::i64;
  EXPECT_NEAR(run_loss("sigmoid_binary_cross_entropy", p, int_bits), bce / 6, 1e-12);
}

TEST(LossOps, BinaryLossesStableForHugeLogits) {
  // Naive forms give log(0) or exp overflow here.
  EXPECT_NEAR(run_loss("sigmoid_binary_cross_entropy", tensor({2}, {1000, -1000}), tensor({2}, {0, 1})), 1000, 1e-9);
  EXPECT_NEAR(run_loss("sigmoid_binary_cross_entropy", tensor({2}, {1000, -1000}), tensor({2}, {1, 0})), 0, 1e-12);
  EXPECT_NEAR(run_loss("logistic", tensor({2}, {-1000, 1000}), tensor({2}, {1, -1})), 1000, 1e-9);
  EXPECT_NEAR(run_loss("logistic", tensor({2}, {1000, -1000}), tensor({2}, {1, -1})), 0, 1e-12);
}

TEST(LossOps, BinaryTargetsOutOfRangeNameNodeAndValue) {
  Tensor x = tensor({3}, {0.5, -0.5, 1});
  expect_label_error("sigmoid_binary_cross_entropy", x, tensor({3}, {0, 1, 2}, DType::i32), "target 2");
  expect_label_error("sigmoid_binary_cross_entropy", x, tensor({3}, {0, -0.5, 1}), "target -0.5");
  expect_label_error("logistic", x, tensor({3}, {1, 0, -1}, DType::i32), "label 0");
}

TEST(LossOps, ElementwiseLossShapeRule) {
  for (std::string op : {"mse", "l1", "sigmoid_binary_cross_entropy", "logistic"}) {
    SCOPED_TRACE(op);
    EXPECT_EQ(infer_type(op, {f32({kBatch, 3}), f32({kBatch, 3})}), f32({}));
    // [N,1] against [N] would silently broadcast to [N,N]: an error instead.
    EXPECT_TRUE(contains_all(shape_error(op, {f32({4, 1}), f32({4})}), {"'bad'", "f32[4,1]", "f32[4]"}));
    EXPECT_TRUE(contains_all(shape_error(op, {i32({4}), i32({4})}), {"'bad'", "i32[4]"}));
  }
  EXPECT_EQ(infer_type("logistic", {f32({4}), i32({4})}), f32({}));
  EXPECT_TRUE(contains_all(shape_error("mse", {f32({4}), i32({4})}), {"'bad'", "i32[4]"}));
}

}  // namespace
}  // namespace dlc
