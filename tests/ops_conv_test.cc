// Convolution and pooling: shape rules, values against hand-computed
// results (PyTorch's definitions), and error messages that name the shapes.
#include <gtest/gtest.h>

#include <cmath>

#include "ir/op_registry.h"
#include "tests/ops_test_util.h"

namespace dlc {
namespace {

using test::contains_all;
using test::infer_type;
using test::run_op;
using test::shape_error;
using test::tensor;

TensorType f32(std::vector<int64_t> d) { return {DType::f32, std::move(d)}; }

Attrs ints(std::initializer_list<std::pair<const char*, std::vector<int64_t>>> kv) {
  Attrs a;
  for (const auto& [k, v] : kv) a[k] = attr_ints(v);
  return a;
}

TEST(Conv2dOp, ShapeRule) {
  // LeNet-5's layers.
  EXPECT_EQ(infer_type("conv2d", {f32({kBatch, 1, 28, 28}), f32({6, 1, 5, 5}), f32({6})}, ints({{"pads", {2, 2}}})),
            f32({kBatch, 6, 28, 28}));
  EXPECT_EQ(infer_type("conv2d", {f32({8, 6, 14, 14}), f32({16, 6, 5, 5})}), f32({8, 16, 10, 10}));
  // floor((H + 2p - d(k-1) - 1) / s) + 1, as PyTorch.
  EXPECT_EQ(infer_type("conv2d", {f32({1, 2, 9, 8}), f32({3, 2, 3, 2})},
                       ints({{"strides", {2, 3}}, {"pads", {1, 0}}, {"dilations", {2, 1}}})),
            f32({1, 3, 4, 3}));
  EXPECT_EQ(infer_type("max_pool2d", {f32({4, 6, 28, 28})}, ints({{"kernel", {2, 2}}})), f32({4, 6, 14, 14}));
  EXPECT_EQ(infer_type("avg_pool2d", {f32({4, 6, 7, 7})}, ints({{"kernel", {3, 3}}, {"strides", {2, 2}}, {"pads", {1, 1}}})),
            f32({4, 6, 4, 4}));
  EXPECT_EQ(infer_type("extract_patches", {f32({2, 3, 7, 7})}, ints({{"kernel", {3, 3}}, {"pads", {1, 1}}})),
            f32({2, 7, 7, 3, 3, 3}));
  EXPECT_EQ(infer_type("fold_patches", {f32({2, 7, 7, 3, 3, 3})}, ints({{"kernel", {3, 3}}, {"pads", {1, 1}}, {"image", {7, 7}}})),
            f32({2, 3, 7, 7}));
}

TEST(Conv2dOp, ErrorsNameTheShapes) {
  EXPECT_TRUE(contains_all(shape_error("conv2d", {f32({1, 3, 8, 8}), f32({4, 2, 3, 3})}),
                           {"'bad'", "f32[4,2,3,3]", "expects 2 input channels", "f32[1,3,8,8]", "has 3"}));
  EXPECT_TRUE(contains_all(shape_error("conv2d", {f32({1, 3, 8}), f32({4, 3, 3, 3})}), {"4-D NCHW", "f32[1,3,8]"}));
  EXPECT_TRUE(contains_all(shape_error("conv2d", {f32({1, 3, 8, 8}), f32({4, 3, 3, 3}), f32({3})}), {"bias", "[4]", "f32[3]"}));
  EXPECT_TRUE(contains_all(shape_error("conv2d", {f32({1, 1, 4, 4}), f32({1, 1, 5, 5})}), {"larger than the padded image", "4x4"}));
  EXPECT_TRUE(contains_all(shape_error("conv2d", {f32({1, 1, 8, 8}), f32({1, 1, 3, 3})}, ints({{"strides", {0, 1}}})),
                           {"strides", ">= 1", "[0,1]"}));
  EXPECT_TRUE(contains_all(shape_error("conv2d", {f32({1, 1, 8, 8}), f32({1, 1, 3, 3})}, ints({{"pads", {1}}})),
                           {"pads must be two integers"}));
  EXPECT_TRUE(contains_all(shape_error("max_pool2d", {f32({1, 1, 8, 8})}, ints({{"kernel", {2, 2}}, {"pads", {2, 0}}})),
                           {"pads [2,0] exceed half the kernel [2,2]"}));
  Attrs nan_pad = ints({{"kernel", {2, 2}}});
  nan_pad["pad_value"] = attr_f(NAN);
  EXPECT_TRUE(contains_all(shape_error("extract_patches", {f32({1, 1, 4, 4})}, nan_pad), {"'bad'", "pad_value is NaN"}));
  EXPECT_TRUE(contains_all(shape_error("fold_patches", {f32({2, 7, 7, 3, 3, 3})}, ints({{"kernel", {3, 3}}, {"image", {8, 8}}})),
                           {"do not fit a 8x8 image", "[N,6,6,C,3,3]"}));
}

TEST(Conv2dOp, ValuesAreCrossCorrelationsWithZeroPadding) {
  // x = 1..9 as a 3x3 image; the kernel picks the right neighbour minus the left.
  Tensor x = tensor({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor w = tensor({1, 1, 1, 3}, {-1, 0, 1});
  Tensor y = run_op("conv2d", {x, w, tensor({1}, {0.5})}, ints({{"pads", {0, 1}}}));
  // Row 1 2 3 -> (2 - 0, 3 - 1, 0 - 2) + 0.5.
  EXPECT_EQ(y.data, (std::vector<double>{2.5, 2.5, -1.5, 5.5, 2.5, -4.5, 8.5, 2.5, -7.5}));
  // Stride 2 with padding 1 and a 3x3 sum kernel: each corner sums its 2x2 block.
  Tensor ones = tensor({1, 1, 3, 3}, std::vector<double>(9, 1.0));
  y = run_op("conv2d", {x, ones}, ints({{"strides", {2, 2}}, {"pads", {1, 1}}}));
  EXPECT_EQ(y.data, (std::vector<double>{1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9}));
}

TEST(PoolOps, MaxAndAverageOverWindows) {
  Tensor x = tensor({1, 1, 4, 4}, {1, 5, 2, 0, 3, 4, 8, 1, 0, 0, 1, 1, -2, 7, 1, 3});
  EXPECT_EQ(run_op("max_pool2d", {x}, ints({{"kernel", {2, 2}}})).data, (std::vector<double>{5, 8, 7, 3}));
  EXPECT_EQ(run_op("avg_pool2d", {x}, ints({{"kernel", {2, 2}}})).data,
            (std::vector<double>{13 / 4.0, 11 / 4.0, 5 / 4.0, 6 / 4.0}));
  // Padding: max ignores it, average counts it as zeros (count_include_pad).
  Tensor y = run_op("avg_pool2d", {x}, ints({{"kernel", {3, 3}}, {"strides", {3, 3}}, {"pads", {1, 1}}}));
  EXPECT_DOUBLE_EQ(y[0], (1 + 5 + 3 + 4) / 9.0);
  Tensor negative = tensor({1, 1, 2, 2}, {-3, -1, -4, -2});
  EXPECT_EQ(run_op("max_pool2d", {negative}, ints({{"kernel", {2, 2}}, {"strides", {1, 1}}, {"pads", {1, 1}}})).data,
            (std::vector<double>{-3, -1, -1, -3, -1, -1, -4, -2, -2}));
}

TEST(PatchOps, FoldSumsEveryPatchElementBackWhereItWasRead) {
  // 3x3 image, 2x2 windows, stride 1: the centre is read by all 4 windows.
  Tensor x = tensor({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Attrs a = ints({{"kernel", {2, 2}}});
  Tensor p = run_op("extract_patches", {x}, a);
  EXPECT_EQ(p.type.dims, (std::vector<int64_t>{1, 2, 2, 1, 2, 2}));
  EXPECT_EQ(p.data, (std::vector<double>{1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9}));
  a["image"] = attr_ints({3, 3});
  Tensor back = run_op("fold_patches", {tensor({1, 2, 2, 1, 2, 2}, std::vector<double>(16, 1.0))}, a);
  EXPECT_EQ(back.data, (std::vector<double>{1, 2, 1, 2, 4, 2, 1, 2, 1}));
  // pad_value fills reads outside the image.
  Attrs padded = ints({{"kernel", {1, 2}}, {"pads", {0, 1}}, {"strides", {1, 2}}});
  padded["pad_value"] = attr_f(-7);
  EXPECT_EQ(run_op("extract_patches", {tensor({1, 1, 1, 3}, {1, 2, 3})}, padded).data,
            (std::vector<double>{-7, 1, 2, 3}));
}

}  // namespace
}  // namespace dlc
