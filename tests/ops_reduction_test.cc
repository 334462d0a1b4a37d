// Reductions: reduce_sum, reduce_mean, reduce_max.
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

Attrs axes(std::vector<int64_t> a, bool keepdims = false) {
  Attrs r{{"axes", attr_ints(a)}};
  if (keepdims) r["keepdims"] = attr_b(true);
  return r;
}

TEST(ReduceOps, ShapeRule) {
  for (std::string op : {"reduce_sum", "reduce_mean", "reduce_max"}) {
    SCOPED_TRACE(op);
    EXPECT_EQ(infer_type(op, {f32({2, 3, 4})}, axes({1})), f32({2, 4}));
    EXPECT_EQ(infer_type(op, {f32({2, 3, 4})}, axes({-1, 0}, true)), f32({1, 3, 1}));
    EXPECT_EQ(infer_type(op, {f32({2, 3, 4})}), f32({})) << "no axes: all";
    EXPECT_EQ(infer_type(op, {f32({2, 3, 4})}, axes({})), f32({})) << "empty axes: all";
    EXPECT_EQ(infer_type(op, {f32({2, 3})}, axes({}, true)), f32({1, 1}));
    EXPECT_EQ(infer_type(op, {f32({kBatch, 10})}, axes({1})), f32({kBatch}));
    EXPECT_EQ(infer_type(op, {f32({kBatch, 10})}, axes({0}, true)), f32({1, 10}));
    EXPECT_TRUE(contains_all(shape_error(op, {f32({2, 3})}, axes({2})), {"'bad'", "axis 2", "f32[2,3]"}));
    EXPECT_TRUE(contains_all(shape_error(op, {f32({2, 3})}, axes({1, -1})), {"'bad'", "repeated", "f32[2,3]"}));
  }
  EXPECT_TRUE(contains_all(shape_error("reduce_mean", {{DType::i32, {3}}}), {"'bad'", "i32[3]"}));
  EXPECT_EQ(infer_type("reduce_sum", {{DType::i64, {3}}}), (TensorType{DType::i64, {}}));
}

TEST(ReduceOps, ValuesAgainstLoops) {
  Tensor x = test::random_tensor({3, 4, 5}, 7);
  Tensor s = run_op("reduce_sum", {x}, axes({0, 2}));
  Tensor m = run_op("reduce_mean", {x}, axes({0, 2}, true));
  Tensor mx = run_op("reduce_max", {x}, axes({0, 2}));
  ASSERT_EQ(s.type.dims, (std::vector<int64_t>{4}));
  ASSERT_EQ(m.type.dims, (std::vector<int64_t>{1, 4, 1}));
  for (int j = 0; j < 4; ++j) {
    double sum = 0, best = -1e300;
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 5; ++k) {
        double v = x[(i * 4 + j) * 5 + k];
        sum += v;
        best = std::max(best, v);
      }
    EXPECT_NEAR(s[j], sum, 1e-12);
    EXPECT_NEAR(m[j], sum / 15, 1e-12);
    EXPECT_EQ(mx[j], best);
  }
}

TEST(ReduceOps, SumOfAllAndLastAxis) {
  Tensor x = tensor({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(run_op("reduce_sum", {x}).data, (std::vector<double>{21}));
  EXPECT_EQ(run_op("reduce_sum", {x}, axes({-1})).data, (std::vector<double>{6, 15}));
  EXPECT_EQ(run_op("reduce_max", {x}, axes({0})).data, (std::vector<double>{4, 5, 6}));
  EXPECT_EQ(run_op("reduce_mean", {x}, axes({1})).data, (std::vector<double>{2, 5}));
}

TEST(ReduceOps, MaxPropagatesNaNWhereverItSits) {
  for (int pos = 0; pos < 3; ++pos) {
    std::vector<double> v{1, 2, 3};
    v[pos] = NAN;
    EXPECT_TRUE(std::isnan(run_op("reduce_max", {tensor({3}, v)})[0])) << "NaN at " << pos;
  }
  EXPECT_EQ(run_op("reduce_max", {tensor({3}, {-5, -2, -9})})[0], -2);
}

}  // namespace
}  // namespace dlc
