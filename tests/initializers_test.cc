#include <gtest/gtest.h>

#include <cmath>

#include "ir/error.h"
#include "ir/initializers.h"

namespace dlc {
namespace {

Parameter make_param(const std::string& name, std::vector<int64_t> dims, proto::Initializer init,
                     DType dtype = DType::f32) {
  Parameter p;
  p.name = name;
  p.type = {dtype, std::move(dims)};
  p.init = std::move(init);
  return p;
}

proto::Initializer normal(double mean, double std) {
  proto::Initializer i;
  i.mutable_normal()->set_mean(mean);
  i.mutable_normal()->set_std(std);
  return i;
}

proto::Initializer uniform(double lo, double hi) {
  proto::Initializer i;
  i.mutable_uniform()->set_lo(lo);
  i.mutable_uniform()->set_hi(hi);
  return i;
}

void moments(const Tensor& t, double* mean, double* std) {
  double s = 0, ss = 0;
  for (double x : t.data) s += x;
  *mean = s / static_cast<double>(t.numel());
  for (double x : t.data) ss += (x - *mean) * (x - *mean);
  *std = std::sqrt(ss / static_cast<double>(t.numel()));
}

}  // namespace

TEST(Initializers, SameSeedSameValuesDifferentSeedDifferent) {
  Parameter p = make_param("w", {64, 32}, normal(0, 1));
  Tensor a = initialize_parameter(p, 7);
  Tensor b = initialize_parameter(p, 7);
  Tensor c = initialize_parameter(p, 8);
  EXPECT_EQ(a.data, b.data);
  int equal = 0;
  for (int64_t i = 0; i < a.numel(); ++i) equal += a[i] == c[i];
  EXPECT_EQ(equal, 0);
}

TEST(Initializers, StreamDependsOnNameNotOrder) {
  // Two parameters with the same type and initializer differ by name only.
  Tensor w1 = initialize_parameter(make_param("w1", {100}, uniform(-1, 1)), 3);
  Tensor w2 = initialize_parameter(make_param("w2", {100}, uniform(-1, 1)), 3);
  EXPECT_NE(w1.data, w2.data);
  // The same name gives the same values whatever else exists.
  EXPECT_EQ(w1.data, initialize_parameter(make_param("w1", {100}, uniform(-1, 1)), 3).data);
}

TEST(Initializers, PrefixOfLargerTensorIsStable) {
  // Element e depends only on (seed, name, e): a longer tensor extends a shorter one.
  Tensor small = initialize_parameter(make_param("b", {10}, normal(0, 1)), 5);
  Tensor large = initialize_parameter(make_param("b", {1000}, normal(0, 1)), 5);
  for (int64_t i = 0; i < small.numel(); ++i) EXPECT_EQ(small[i], large[i]);
}

TEST(Initializers, NormalMomentsMatch) {
  Tensor t = initialize_parameter(make_param("w", {200, 500}, normal(0.5, 2.0)), 11);
  double m, s;
  moments(t, &m, &s);
  // n = 1e5: standard error of the mean is 2/316 ~ 0.0063; of the std ~ 0.0045.
  EXPECT_NEAR(m, 0.5, 0.03);
  EXPECT_NEAR(s, 2.0, 0.02);
}

TEST(Initializers, UniformStaysInRangeWithMoments) {
  Tensor t = initialize_parameter(make_param("u", {100000}, uniform(-3, 5)), 1);
  for (double x : t.data) {
    ASSERT_GE(x, -3.0);
    ASSERT_LE(x, 5.0);
  }
  double m, s;
  moments(t, &m, &s);
  EXPECT_NEAR(m, 1.0, 0.04);
  EXPECT_NEAR(s, 8.0 / std::sqrt(12.0), 0.02);
}

TEST(Initializers, XavierUsesLastTwoDimsAsFans) {
  proto::Initializer init;
  init.mutable_xavier();
  Tensor t = initialize_parameter(make_param("w", {300, 200}, init), 2);
  double a = std::sqrt(6.0 / (300 + 200));
  double m, s;
  moments(t, &m, &s);
  for (double x : t.data) ASSERT_LE(std::abs(x), a + 1e-7);
  EXPECT_NEAR(m, 0.0, 0.005);
  EXPECT_NEAR(s, a / std::sqrt(3.0), 0.002);  // U(-a, a) has std a/sqrt(3)
}

TEST(Initializers, FansOfEachRank) {
  int64_t in, out;
  parameter_fans({784, 128}, &in, &out);
  EXPECT_EQ(in, 784);
  EXPECT_EQ(out, 128);
  parameter_fans({10}, &in, &out);
  EXPECT_EQ(in, 10);
  EXPECT_EQ(out, 10);
  parameter_fans({}, &in, &out);
  EXPECT_EQ(in, 1);
  EXPECT_EQ(out, 1);
}

TEST(Initializers, ConvolutionWeightFansCountTheKernelLikePyTorch) {
  // torch.nn.init._calculate_fan_in_and_fan_out on a Conv2d(6, 16, 5) weight
  // [16, 6, 5, 5]: fan_in = 6*25 = 150, fan_out = 16*25 = 400.
  int64_t in, out;
  parameter_fans({16, 6, 5, 5}, &in, &out);
  EXPECT_EQ(in, 150);
  EXPECT_EQ(out, 400);
  parameter_fans({8, 3, 7}, &in, &out);  // Conv1d(3, 8, 7)
  EXPECT_EQ(in, 21);
  EXPECT_EQ(out, 56);
}

TEST(Initializers, HeOnAConvolutionWeightUsesChannelsTimesKernel) {
  proto::Initializer init;
  init.mutable_he();
  Tensor t = initialize_parameter(make_param("conv", {64, 32, 3, 3}, init), 4);
  double m, s;
  moments(t, &m, &s);
  EXPECT_NEAR(m, 0.0, 0.003);
  EXPECT_NEAR(s, std::sqrt(2.0 / (32 * 9)), 0.001);  // the old rule gave sqrt(2 / 3)
}

TEST(Initializers, HeStdIsSqrtTwoOverFanIn) {
  proto::Initializer init;
  init.mutable_he();
  Tensor t = initialize_parameter(make_param("w", {400, 250}, init), 4);
  double m, s;
  moments(t, &m, &s);
  EXPECT_NEAR(m, 0.0, 0.003);
  EXPECT_NEAR(s, std::sqrt(2.0 / 400), 0.001);
}

TEST(Initializers, ZerosConstantAndData) {
  proto::Initializer zeros;
  zeros.mutable_zeros();
  for (double x : initialize_parameter(make_param("z", {3, 2}, zeros), 1).data) EXPECT_EQ(x, 0.0);

  proto::Initializer c;
  c.mutable_constant()->set_value(0.25);
  for (double x : initialize_parameter(make_param("c", {4}, c), 1).data) EXPECT_EQ(x, 0.25);

  proto::Initializer d;
  for (double v : {1.5, -2.0, 3.25, 0.1}) d.mutable_data()->add_values(v);
  Tensor t = initialize_parameter(make_param("d", {2, 2}, d), 1);
  EXPECT_EQ(t[0], 1.5);
  EXPECT_EQ(t[2], 3.25);
  EXPECT_EQ(t[3], static_cast<double>(0.1f)) << "f32 parameters hold float32 values";
  Tensor t64 = initialize_parameter(make_param("d", {2, 2}, d, DType::f64), 1);
  EXPECT_EQ(t64[3], 0.1);
}

TEST(Initializers, F32ValuesAreExactFloats) {
  Tensor t = initialize_parameter(make_param("w", {100}, normal(0, 1)), 9);
  for (double x : t.data) EXPECT_EQ(x, static_cast<double>(static_cast<float>(x)));
}

TEST(Initializers, InlineDataCountMismatchNamesParameter) {
  proto::Initializer d;
  for (double v : {1.0, 2.0, 3.0}) d.mutable_data()->add_values(v);
  try {
    initialize_parameter(make_param("layer1.bias", {4}, d), 0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("'layer1.bias'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3 values"), std::string::npos) << msg;
    EXPECT_NE(msg.find("needs 4"), std::string::npos) << msg;
  }
}

TEST(Initializers, MissingInitializerAndBatchDimAreErrors) {
  EXPECT_THROW(initialize_parameter(make_param("w", {2}, proto::Initializer()), 0), Error);
  proto::Initializer zeros;
  zeros.mutable_zeros();
  EXPECT_THROW(initialize_parameter(make_param("w", {kBatch, 2}, zeros), 0), Error);
  EXPECT_THROW(initialize_parameter(make_param("w", {2}, normal(0, -1)), 0), Error);
}

}  // namespace dlc
