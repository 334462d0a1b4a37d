#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "ir/builder.h"
#include "ir/error.h"
#include "ir/verifier.h"
#include "reference/ref_interpreter.h"
#include "tests/ops_test_util.h"
#include "tests/test_util.h"

namespace dlc {

using test::contains_all;
using test::infer_type;
using test::run_op;
using test::shape_error;
using test::tensor;

TEST(ElementwiseOps, UnaryValuesMatchTheStandardLibrary) {
  const std::vector<std::pair<std::string, std::function<double(double)>>> ops = {
      {"neg", [](double x) { return -x; }},
      {"exp", [](double x) { return std::exp(x); }},
      {"abs", [](double x) { return std::fabs(x); }},
      {"sign", [](double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }},
      {"square", [](double x) { return x * x; }},
      {"relu", [](double x) { return x > 0 ? x : 0.0; }},
      {"sigmoid", [](double x) { return 1 / (1 + std::exp(-x)); }},
      {"tanh", [](double x) { return std::tanh(x); }},
      {"softplus", [](double x) { return std::log(1 + std::exp(x)); }},
  };
  Tensor x = tensor({5}, {-2.5, -0.5, 0, 0.75, 3});
  for (const auto& [op, f] : ops)
    for (int64_t i = 0; i < x.numel(); ++i) EXPECT_NEAR(run_op(op, {x})[i], f(x[i]), 1e-12) << op << " at " << x[i];
  Tensor pos = tensor({3}, {0.25, 1, 9});
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(run_op("log", {pos})[i], std::log(pos[i]), 1e-12);
    EXPECT_NEAR(run_op("sqrt", {pos})[i], std::sqrt(pos[i]), 1e-12);
    EXPECT_NEAR(run_op("rsqrt", {pos})[i], 1 / std::sqrt(pos[i]), 1e-12);
  }
  // The stable form must not overflow where log(1 + e^x) does.
  EXPECT_NEAR(run_op("softplus", {tensor({2}, {1000, -1000})})[0], 1000, 1e-9);
  EXPECT_NEAR(run_op("softplus", {tensor({2}, {1000, -1000})})[1], 0, 1e-300);
}

/// PyTorch's definitions (torch.nn.functional), in float64 from the math.
double leaky_relu_ref(double x, double alpha) { return x > 0 ? x : alpha * x; }
double elu_ref(double x, double alpha) { return x > 0 ? x : alpha * std::expm1(x); }
double gelu_tanh_ref(double x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}
double log_sigmoid_ref(double x) {  // -softplus(-x), as log(1/(1+e^-x)) where that is exact
  return x < 0 ? x - std::log1p(std::exp(x)) : -std::log1p(std::exp(-x));
}

TEST(ElementwiseOps, ActivationsMatchPyTorchsFormulas) {
  // Negative, zero, tiny, ordinary and large |x|.
  Tensor x = tensor({13}, {-1000, -30, -8, -2.5, -0.5, -1e-7, 0, 1e-7, 0.5, 2.5, 8, 30, 1000});
  auto expect_op = [&](const std::string& op, const Attrs& attrs, const std::function<double(double)>& f) {
    Tensor got = run_op(op, {x}, attrs);
    for (int64_t i = 0; i < x.numel(); ++i) {
      double want = f(x[i]);
      EXPECT_NEAR(got[i], want, 1e-12 * std::max(1.0, std::fabs(want))) << op << " at " << x[i];
      // Near zero the answer is tiny: hold it to a relative error too.
      if (std::fabs(want) > 0 && std::fabs(want) < 1e-3) {
        EXPECT_NEAR(got[i] / want, 1.0, 1e-8) << op << " relative at " << x[i];
      }
    }
  };
  expect_op("leaky_relu", {}, [](double v) { return leaky_relu_ref(v, 0.01); });
  expect_op("leaky_relu", {{"alpha", attr_f(0.2)}}, [](double v) { return leaky_relu_ref(v, 0.2); });
  expect_op("elu", {}, [](double v) { return elu_ref(v, 1.0); });
  expect_op("elu", {{"alpha", attr_f(0.5)}}, [](double v) { return elu_ref(v, 0.5); });
  expect_op("gelu", {}, gelu_tanh_ref);
  expect_op("log_sigmoid", {}, log_sigmoid_ref);
  // Spot values computed independently (PyTorch gives the same in float64).
  EXPECT_NEAR(run_op("gelu", {tensor({1}, {1.0})})[0], 0.8411919906082768, 1e-12);
  EXPECT_NEAR(run_op("gelu", {tensor({1}, {-1.0})})[0], -0.15880800939172324, 1e-12);
  EXPECT_NEAR(run_op("log_sigmoid", {tensor({1}, {0.0})})[0], -std::log(2.0), 1e-15);
  EXPECT_NEAR(run_op("elu", {tensor({1}, {-1.0})})[0], std::exp(-1.0) - 1.0, 1e-15);
  // Stable at the extremes: no overflow into inf or NaN.
  EXPECT_EQ(run_op("log_sigmoid", {tensor({1}, {-1000})})[0], -1000);
  EXPECT_EQ(run_op("elu", {tensor({1}, {-1000})})[0], -1);
  EXPECT_EQ(run_op("gelu", {tensor({1}, {1000})})[0], 1000);
}

TEST(ElementwiseOps, ActivationDefaultsAndAttributes) {
  EXPECT_EQ(run_op("leaky_relu", {tensor({1}, {-2})})[0], -0.02) << "alpha defaults to 0.01, as PyTorch";
  EXPECT_NEAR(run_op("elu", {tensor({1}, {-50})})[0], -1.0, 1e-15) << "alpha defaults to 1";
  EXPECT_THROW(run_op("leaky_relu", {tensor({1}, {1})}, {{"alpha", attr_s("big")}}), Error) << "alpha is a number";
}

TEST(ElementwiseOps, BinaryValuesBroadcast) {
  Tensor a = tensor({2, 1}, {2, -3}), b = tensor({1, 3}, {1, 4, 0.5});
  const std::vector<std::pair<std::string, std::function<double(double, double)>>> ops = {
      {"add", [](double x, double y) { return x + y; }},
      {"sub", [](double x, double y) { return x - y; }},
      {"mul", [](double x, double y) { return x * y; }},
      {"div", [](double x, double y) { return x / y; }},
      {"maximum", [](double x, double y) { return std::max(x, y); }},
      {"minimum", [](double x, double y) { return std::min(x, y); }},
      {"greater", [](double x, double y) { return x > y ? 1.0 : 0.0; }},
      {"less", [](double x, double y) { return x < y ? 1.0 : 0.0; }},
      {"equal", [](double x, double y) { return x == y ? 1.0 : 0.0; }},
  };
  for (const auto& [op, f] : ops) {
    Tensor y = run_op(op, {a, b});
    ASSERT_EQ(y.type.dims, (std::vector<int64_t>{2, 3})) << op;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) EXPECT_NEAR(y[i * 3 + j], f(a[i], b[j]), 1e-12) << op;
  }
  EXPECT_NEAR(run_op("pow", {tensor({2}, {2, 9}), tensor({2}, {3, 0.5})})[0], 8, 1e-12);
  EXPECT_NEAR(run_op("pow", {tensor({2}, {2, 9}), tensor({2}, {3, 0.5})})[1], 3, 1e-12);
  EXPECT_TRUE(std::isnan(run_op("maximum", {tensor({1}, {NAN}), tensor({1}, {1})})[0]));
}

TEST(ElementwiseOps, ShapeRulesWithTheBatchDimension) {
  TensorType bx{DType::f32, {kBatch, 1}}, row{DType::f32, {1, 4}};
  EXPECT_EQ(infer_type("add", {bx, row}), (TensorType{DType::f32, {kBatch, 4}}));
  EXPECT_EQ(infer_type("greater", {bx, row}), (TensorType{DType::boolean, {kBatch, 4}}));
  std::string e = shape_error("mul", {bx, TensorType{DType::f32, {5, 4}}});
  EXPECT_TRUE(contains_all(e, {"'bad'", "f32[batch,1]", "f32[5,4]"})) << e;
  e = shape_error("add", {TensorType{DType::f32, {3}}, TensorType{DType::f64, {3}}});
  EXPECT_TRUE(contains_all(e, {"'bad'", "f32[3]", "f64[3]"})) << e;
}

TEST(ElementwiseOps, WhereSelectsAndBroadcasts) {
  Tensor c({DType::boolean, {2, 1}}, {1, 0});
  Tensor y = run_op("where", {c, tensor({1, 2}, {1, 2}), tensor({}, {-7})});
  EXPECT_EQ(y.data, (std::vector<double>{1, 2, -7, -7}));
  EXPECT_TRUE(contains_all(shape_error("where", {TensorType{DType::f32, {2}}, TensorType{DType::f32, {2}}, TensorType{DType::f32, {2}}}), {"'bad'", "bool"}));
}

TEST(ElementwiseOps, CastTruncatesTowardZeroAndMakesBool) {
  Tensor x = tensor({4}, {1.7, -1.7, 0, 2});
  Tensor i = run_op("cast", {x}, {{"dtype", attr_dtype(DType::i32)}});
  EXPECT_EQ(i.type.dtype, DType::i32);
  EXPECT_EQ(i.data, (std::vector<double>{1, -1, 0, 2}));
  EXPECT_EQ(run_op("cast", {x}, {{"dtype", attr_dtype(DType::boolean)}}).data, (std::vector<double>{1, 1, 0, 1}));
  EXPECT_NE(shape_error("cast", {TensorType{DType::f32, {2}}}), "") << "dtype is required";
}

TEST(ElementwiseOps, SigmoidOfPerceptronExample) {
  // Course notes: g(1 + 3*x1 - 2*x2) at x = (-1, 2) is sigmoid(-6).
  Graph g;
  GraphBuilder b(g);
  auto z = b.input("z", {DType::f32, {1}});
  b.output(b.op("sigmoid", {z}));
  RefInterpreter interp(g);
  auto out = interp.run({{"z", Tensor({DType::f32, {1}}, {1 + 3 * -1.0 - 2 * 2.0})}}, g.outputs);
  EXPECT_NEAR(out.at(g.outputs[0])[0], 0.0024726, 1e-6);
}

TEST(ElementwiseOps, BroadcastShapeMismatchNamesBothShapes) {
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {2, 3}});
  auto y = b.input("y", {DType::f32, {4}});
  try {
    b.op("add", {x, y}, {}, "s");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("f32[2,3]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("f32[4]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'s'"), std::string::npos) << e.what();
  }
}

}  // namespace dlc
