// NN ops: matmul, softmax, log_softmax, one_hot, argmax.
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

Attrs flags(bool ta, bool tb) { return {{"transpose_a", attr_b(ta)}, {"transpose_b", attr_b(tb)}}; }

TEST(MatmulOp, ShapeRule) {
  EXPECT_EQ(infer_type("matmul", {f32({2, 3}), f32({3, 5})}), f32({2, 5}));
  EXPECT_EQ(infer_type("matmul", {f32({kBatch, 784}), f32({784, 10})}), f32({kBatch, 10}));
  EXPECT_EQ(infer_type("matmul", {f32({3, 2}), f32({3, 5})}, flags(true, false)), f32({2, 5}));
  EXPECT_EQ(infer_type("matmul", {f32({2, 3}), f32({5, 3})}, flags(false, true)), f32({2, 5}));
  EXPECT_EQ(infer_type("matmul", {f32({3, 2}), f32({5, 3})}, flags(true, true)), f32({2, 5}));
  EXPECT_EQ(infer_type("matmul", {f32({kBatch, 4}), f32({kBatch, 3})}, flags(true, false)), f32({4, 3}));
}

TEST(MatmulOp, ErrorsNameNodeAndShapes) {
  std::string e = shape_error("matmul", {f32({2, 3}), f32({4, 5})});
  EXPECT_TRUE(contains_all(e, {"'bad'", "matmul inner dims differ: f32[2,3] x f32[4,5]"})) << e;
  EXPECT_TRUE(contains_all(shape_error("matmul", {f32({2, 3, 4}), f32({4, 5})}), {"'bad'", "rank-2", "f32[2,3,4]"}));
  EXPECT_TRUE(contains_all(shape_error("matmul", {f32({2, 3}), {DType::f64, {3, 5}}}), {"'bad'", "f64[3,5]"}));
  EXPECT_NE(shape_error("matmul", {f32({kBatch, 3}), f32({5, 3})}, flags(true, false)), "") << "batch vs 5";
}

/// Row-major [r,c] element of a stored matrix, read transposed when `t`.
double at(const Tensor& m, bool t, int64_t r, int64_t c) {
  int64_t cols = m.type.dims[1];
  return t ? m[c * cols + r] : m[r * cols + c];
}

TEST(MatmulOp, ValuesForEveryTransposeCombination) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(std::to_string(ta) + std::to_string(tb));
      const int64_t m = 3, k = 4, n = 2;
      Tensor a = test::random_tensor(ta ? std::vector<int64_t>{k, m} : std::vector<int64_t>{m, k}, 1);
      Tensor b = test::random_tensor(tb ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n}, 2);
      Tensor c = run_op("matmul", {a, b}, flags(ta, tb));
      ASSERT_EQ(c.type.dims, (std::vector<int64_t>{m, n}));
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double s = 0;
          for (int64_t p = 0; p < k; ++p) s += at(a, ta, i, p) * at(b, tb, p, j);
          EXPECT_NEAR(c[i * n + j], s, 1e-12);
        }
    }
}

TEST(MatmulOp, PerceptronOfCourseNotes) {
  // g(1 + 3*x1 - 2*x2) at x = (-1, 2): z = -6, sigmoid(-6) = 0.0024726.
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", f32({1, 2}));
  auto w = b.input("w", f32({2, 1}));
  auto bias = b.input("b", f32({1}));
  auto y = b.op("sigmoid", {b.add(b.matmul(x, w), bias)});
  auto out = RefInterpreter(g).run(
      {{"x", tensor({1, 2}, {-1, 2})}, {"w", tensor({2, 1}, {3, -2})}, {"b", tensor({1}, {1})}}, {y});
  EXPECT_NEAR(out.at(y)[0], 1 / (1 + std::exp(6.0)), 1e-12);
  EXPECT_NEAR(out.at(y)[0], 0.0025, 5e-5);
}

TEST(SoftmaxOp, CourseNoteExamples) {
  Tensor a = run_op("softmax", {tensor({3}, {1, 2, 3})});
  EXPECT_NEAR(a[0], 0.090, 5e-4);
  EXPECT_NEAR(a[1], 0.245, 5e-4);
  EXPECT_NEAR(a[2], 0.665, 5e-4);
  // exp(999) overflows double: only the max-subtracted form gets this right.
  Tensor b = run_op("softmax", {tensor({3}, {999, 0, -2})});
  for (double v : b.data) EXPECT_FALSE(std::isnan(v));
  EXPECT_NEAR(b[0], 1, 1e-12);
  EXPECT_NEAR(b[1], 0, 1e-12);
  EXPECT_NEAR(b[2], 0, 1e-12);
  Tensor c = run_op("softmax", {tensor({3}, {-2, -2, -99})});
  EXPECT_NEAR(c[0], 0.5, 1e-12);
  EXPECT_NEAR(c[1], 0.5, 1e-12);
  EXPECT_NEAR(c[2], 0, 1e-12);
}

TEST(SoftmaxOp, AlongAnyAxis) {
  Tensor x = test::random_tensor({2, 3, 4}, 3, -3, 3);
  for (int64_t axis : {0, 1, 2, -1}) {
    SCOPED_TRACE(axis);
    Tensor y = run_op("softmax", {x}, {{"axis", attr_i(axis)}});
    Tensor ly = run_op("log_softmax", {x}, {{"axis", attr_i(axis)}});
    int64_t ax = axis < 0 ? axis + 3 : axis;
    int64_t stride = ax == 0 ? 12 : ax == 1 ? 4 : 1, len = x.type.dims[ax];
    for (int64_t e = 0; e < x.numel(); ++e) {
      int64_t start = e - ((e / stride) % len) * stride;  // the slice's first element
      double sum = 0;
      for (int64_t k = 0; k < len; ++k) sum += std::exp(x[start + k * stride]);
      EXPECT_NEAR(y[e], std::exp(x[e]) / sum, 1e-12);
      EXPECT_NEAR(ly[e], x[e] - std::log(sum), 1e-12);
    }
  }
}

TEST(SoftmaxOp, LogSoftmaxStaysFiniteForHugeLogits) {
  Tensor y = run_op("log_softmax", {tensor({3}, {1000, 0, -1000})});
  EXPECT_NEAR(y[0], 0, 1e-12);
  EXPECT_NEAR(y[1], -1000, 1e-9);
  EXPECT_NEAR(y[2], -2000, 1e-9);
}

TEST(SoftmaxOp, ShapeRule) {
  for (std::string op : {"softmax", "log_softmax"}) {
    EXPECT_EQ(infer_type(op, {f32({kBatch, 10})}), f32({kBatch, 10}));
    EXPECT_TRUE(contains_all(shape_error(op, {f32({2, 3})}, {{"axis", attr_i(2)}}), {"'bad'", "axis 2", "f32[2,3]"}));
    EXPECT_TRUE(contains_all(shape_error(op, {{DType::i32, {3}}}), {"'bad'", "i32[3]"}));
  }
}

TEST(OneHotOp, ShapeAndValues) {
  EXPECT_EQ(infer_type("one_hot", {{DType::i32, {kBatch}}}, {{"depth", attr_i(10)}}), f32({kBatch, 10}));
  EXPECT_EQ(infer_type("one_hot", {{DType::i64, {2, 3}}}, {{"depth", attr_i(4)}, {"dtype", attr_dtype(DType::f64)}}),
            (TensorType{DType::f64, {2, 3, 4}}));
  Tensor y = run_op("one_hot", {tensor({3}, {2, 0, 1}, DType::i32)}, {{"depth", attr_i(3)}});
  EXPECT_EQ(y.data, (std::vector<double>{0, 0, 1, 1, 0, 0, 0, 1, 0}));
  EXPECT_TRUE(contains_all(shape_error("one_hot", {f32({3})}, {{"depth", attr_i(3)}}), {"'bad'", "f32[3]"}));
  EXPECT_TRUE(contains_all(shape_error("one_hot", {{DType::i32, {3}}}), {"'bad'", "depth"}));
}

TEST(OneHotOp, IndexOutOfRangeNamesNodeAndIndex) {
  try {
    run_op("one_hot", {tensor({2}, {1, 5}, DType::i32)}, {{"depth", attr_i(3)}}, "hot");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains_all(e.what(), {"'hot'", "5", "[0, 3)"})) << e.what();
  }
}

TEST(ArgmaxOp, ShapeAndFirstMaxWins) {
  EXPECT_EQ(infer_type("argmax", {f32({kBatch, 10})}), (TensorType{DType::i64, {kBatch}}));
  EXPECT_EQ(infer_type("argmax", {f32({2, 3, 4})}, {{"axis", attr_i(1)}}), (TensorType{DType::i64, {2, 4}}));
  EXPECT_TRUE(contains_all(shape_error("argmax", {f32({2, 3})}, {{"axis", attr_i(-3)}}), {"'bad'", "f32[2,3]"}));
  Tensor y = run_op("argmax", {tensor({2, 4}, {1, 7, 7, 3, 9, 2, 9, 9})});
  EXPECT_EQ(y.data, (std::vector<double>{1, 0}));
  Tensor cols = run_op("argmax", {tensor({2, 3}, {1, 5, 3, 4, 2, 3})}, {{"axis", attr_i(0)}});
  EXPECT_EQ(cols.data, (std::vector<double>{1, 0, 0}));
}

TEST(ArgmaxOp, MiddleAxisOfRank3) {
  Tensor x = test::random_tensor({2, 3, 4}, 11);
  Tensor y = run_op("argmax", {x}, {{"axis", attr_i(1)}});
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 4; ++k) {
      int best = 0;
      for (int j = 1; j < 3; ++j)
        if (x[(i * 3 + j) * 4 + k] > x[(i * 3 + best) * 4 + k]) best = j;
      EXPECT_EQ(y[i * 4 + k], best);
    }
}

}  // namespace
}  // namespace dlc
