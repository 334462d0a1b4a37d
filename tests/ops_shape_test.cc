// Shape ops: constant, reshape, transpose, broadcast_to.
#include <gtest/gtest.h>

#include "tests/ops_test_util.h"

namespace dlc {
namespace {

using test::contains_all;
using test::infer_type;
using test::run_op;
using test::shape_error;
using test::tensor;

const TensorType f32(std::vector<int64_t> dims) { return {DType::f32, std::move(dims)}; }

TEST(ConstantOp, ValueFillsDimsWithDtype) {
  Tensor y = run_op("constant", {}, {{"value", attr_f(2.5)}, {"dims", attr_ints({2, 3})}, {"dtype", attr_dtype(DType::f64)}});
  EXPECT_EQ(y.type, (TensorType{DType::f64, {2, 3}}));
  for (double v : y.data) EXPECT_EQ(v, 2.5);
}

TEST(ConstantOp, DefaultsToF32Scalar) {
  EXPECT_EQ(infer_type("constant", {}, {{"value", attr_f(1)}}), f32({}));
}

TEST(ConstantOp, ValuesAreRowMajorAndIntegerDtypeTruncates) {
  Tensor y = run_op("constant", {}, {{"values", test::attr_floats({1, 2, 3, 4})}, {"dims", attr_ints({2, 2})}});
  EXPECT_EQ(y.data, (std::vector<double>{1, 2, 3, 4}));
  Tensor i = run_op("constant", {}, {{"values", test::attr_floats({1.7, -2.7})}, {"dims", attr_ints({2})},
                                     {"dtype", attr_dtype(DType::i32)}});
  EXPECT_EQ(i.data, (std::vector<double>{1, -2}));
}

TEST(ConstantOp, BatchDimIsSymbolic) {
  EXPECT_EQ(infer_type("constant", {}, {{"value", attr_f(0)}, {"dims", attr_ints({-1, 4})}}), f32({kBatch, 4}));
}

TEST(ConstantOp, Errors) {
  EXPECT_TRUE(contains_all(shape_error("constant", {}, {}), {"'bad'", "'value'", "'values'"}));
  EXPECT_TRUE(contains_all(shape_error("constant", {}, {{"values", test::attr_floats({1, 2, 3})}, {"dims", attr_ints({2, 2})}}),
                           {"'bad'", "3 value(s)", "[2,2]", "need 4"}));
  EXPECT_TRUE(contains_all(shape_error("constant", {}, {{"value", attr_f(1)}, {"dims", attr_ints({2, 0})}}),
                           {"'bad'", "[2,0]"}));
  const int64_t huge = int64_t{1} << 40;
  EXPECT_TRUE(contains_all(shape_error("constant", {}, {{"values", test::attr_floats({1})}, {"dims", attr_ints({huge, huge})}}),
                           {"'bad'", "more elements than int64 counts"}));
}

TEST(ReshapeOp, ShapeRule) {
  EXPECT_EQ(infer_type("reshape", {f32({2, 3, 4})}, {{"dims", attr_ints({6, 4})}}), f32({6, 4}));
  EXPECT_EQ(infer_type("reshape", {f32({kBatch, 28, 28})}, {{"dims", attr_ints({-1, 784})}}), f32({kBatch, 784}));
  EXPECT_EQ(infer_type("reshape", {f32({1, 1})}, {{"dims", attr_ints({})}}), f32({}));
}

TEST(ReshapeOp, ErrorsShowBothShapes) {
  EXPECT_TRUE(contains_all(shape_error("reshape", {f32({2, 3})}, {{"dims", attr_ints({4, 2})}}),
                           {"'bad'", "f32[2,3]", "[4,2]", "element counts differ"}));
  // The batch dimension must stay a dimension of its own.
  EXPECT_TRUE(contains_all(shape_error("reshape", {f32({kBatch, 4})}, {{"dims", attr_ints({4, 2, 2})}}),
                           {"'bad'", "f32[batch,4]", "[4,2,2]"}));
  EXPECT_TRUE(contains_all(shape_error("reshape", {f32({8})}, {{"dims", attr_ints({-1, 4})}}),
                           {"'bad'", "f32[8]", "[batch,4]"}));
  EXPECT_NE(shape_error("reshape", {f32({2, 3})}, {}), "") << "dims is required";
  // Dims whose product overflows int64 (from fuzz_model_binary) are refused, not multiplied.
  const int64_t huge = int64_t{1} << 40;
  EXPECT_TRUE(contains_all(shape_error("reshape", {f32({huge, huge})}, {{"dims", attr_ints({huge, huge})}}),
                           {"'bad'", "more elements than int64 counts"}));
}

TEST(ReshapeOp, KeepsRowMajorOrder) {
  Tensor y = run_op("reshape", {tensor({2, 3}, {1, 2, 3, 4, 5, 6})}, {{"dims", attr_ints({3, 2})}});
  EXPECT_EQ(y.type.dims, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(y.data, (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST(TransposeOp, DefaultReversesAxes) {
  EXPECT_EQ(infer_type("transpose", {f32({2, 3, 4})}), f32({4, 3, 2}));
  Tensor y = run_op("transpose", {tensor({2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(y.type.dims, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(y.data, (std::vector<double>{1, 4, 2, 5, 3, 6}));
}

TEST(TransposeOp, PermutationMovesAxes) {
  EXPECT_EQ(infer_type("transpose", {f32({kBatch, 3, 4})}, {{"perm", attr_ints({1, 0, 2})}}), f32({3, kBatch, 4}));
  // x[i][j][k] = 100i + 10j + k over [2,3,2]; y = transpose(perm 1,2,0) has
  // y[j][k][i] = x[i][j][k].
  std::vector<double> xs;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) xs.push_back(100 * i + 10 * j + k);
  Tensor y = run_op("transpose", {tensor({2, 3, 2}, xs)}, {{"perm", attr_ints({1, 2, 0})}});
  ASSERT_EQ(y.type.dims, (std::vector<int64_t>{3, 2, 2}));
  for (int j = 0; j < 3; ++j)
    for (int k = 0; k < 2; ++k)
      for (int i = 0; i < 2; ++i) EXPECT_EQ(y[(j * 2 + k) * 2 + i], 100 * i + 10 * j + k);
}

TEST(TransposeOp, BadPermNamesNodeAndShape) {
  EXPECT_TRUE(contains_all(shape_error("transpose", {f32({2, 3})}, {{"perm", attr_ints({0, 0})}}),
                           {"'bad'", "[0,0]", "f32[2,3]"}));
  EXPECT_NE(shape_error("transpose", {f32({2, 3})}, {{"perm", attr_ints({0, 1, 2})}}), "");
}

TEST(BroadcastToOp, ShapeRuleWithBatch) {
  EXPECT_EQ(infer_type("broadcast_to", {f32({3, 1})}, {{"dims", attr_ints({2, 3, 4})}}), f32({2, 3, 4}));
  EXPECT_EQ(infer_type("broadcast_to", {f32({1, 4})}, {{"dims", attr_ints({-1, 4})}}), f32({kBatch, 4}));
  EXPECT_EQ(infer_type("broadcast_to", {f32({kBatch, 1})}, {{"dims", attr_ints({-1, 4})}}), f32({kBatch, 4}));
  EXPECT_TRUE(contains_all(shape_error("broadcast_to", {f32({kBatch, 1})}, {{"dims", attr_ints({5, 4})}}),
                           {"'bad'", "f32[batch,1]", "[5,4]"}));
  EXPECT_TRUE(contains_all(shape_error("broadcast_to", {f32({5, 1})}, {{"dims", attr_ints({-1, 4})}}),
                           {"'bad'", "f32[5,1]", "[batch,4]"}));
  EXPECT_TRUE(contains_all(shape_error("broadcast_to", {f32({2, 3})}, {{"dims", attr_ints({3})}}),
                           {"'bad'", "f32[2,3]", "[3]"}));
}

TEST(BroadcastToOp, RepeatsSizeOneAxes) {
  Tensor y = run_op("broadcast_to", {tensor({2, 1}, {7, 8})}, {{"dims", attr_ints({2, 2, 3})}});
  EXPECT_EQ(y.data, (std::vector<double>{7, 7, 7, 8, 8, 8, 7, 7, 7, 8, 8, 8}));
}

}  // namespace
}  // namespace dlc
