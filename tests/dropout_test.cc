#include <gtest/gtest.h>

#include <cmath>

#include "ir/builder.h"
#include "ir/error.h"
#include "ir/philox.h"
#include "reference/ref_interpreter.h"

namespace dlc {
namespace {

constexpr int64_t kN = 20000;

/// y = dropout(x, rate) on an all-ones x of kN elements.
struct DropoutGraph {
  Graph g;
  std::string y;
  explicit DropoutGraph(double rate, Attrs extra = {}) {
    GraphBuilder b(g);
    auto x = b.input("x", {DType::f32, {kN}});
    extra["rate"] = attr_f(rate);
    y = b.op("dropout", {x}, extra, "drop1");
  }
  Tensor run(bool training, uint64_t seed, uint64_t step, double fill = 1.0) const {
    EvalContext ctx;
    ctx.training = training;
    ctx.seed = seed;
    ctx.step = step;
    Tensor x({DType::f32, {kN}}, std::vector<double>(kN, fill));
    return RefInterpreter(g).run({{"x", x}}, {y}, ctx).at(y);
  }
};

std::vector<bool> mask_of(const Tensor& y) {
  std::vector<bool> m;
  for (double v : y.data) m.push_back(v != 0.0);
  return m;
}

}  // namespace

TEST(Dropout, SameSeedAndStepGiveSameMask) {
  DropoutGraph d(0.3);
  EXPECT_EQ(d.run(true, 5, 1).data, d.run(true, 5, 1).data);
}

TEST(Dropout, DifferentSeedsOrStepsGiveDifferentMasks) {
  DropoutGraph d(0.5);
  auto base = mask_of(d.run(true, 5, 1));
  EXPECT_NE(base, mask_of(d.run(true, 6, 1)));
  EXPECT_NE(base, mask_of(d.run(true, 5, 2)));
}

TEST(Dropout, KeyAttributeSelectsTheStream) {
  DropoutGraph by_name(0.5);
  DropoutGraph keyed(0.5, {{"key", attr_i(static_cast<int64_t>(fnv1a64("drop1")))}});
  DropoutGraph other(0.5, {{"key", attr_i(12345)}});
  EXPECT_EQ(by_name.run(true, 1, 1).data, keyed.run(true, 1, 1).data) << "default key is FNV-1a of the name";
  EXPECT_NE(mask_of(by_name.run(true, 1, 1)), mask_of(other.run(true, 1, 1)));
}

TEST(Dropout, KeptFractionAndScale) {
  for (double rate : {0.1, 0.5, 0.8}) {
    DropoutGraph d(rate);
    Tensor y = d.run(true, 17, 3, 2.0);
    int64_t kept = 0;
    for (double v : y.data) {
      if (v == 0.0) continue;
      ++kept;
      ASSERT_NEAR(v, 2.0 / (1.0 - static_cast<float>(rate)), 1e-12);
    }
    double p = 1.0 - rate;
    double sigma = std::sqrt(kN * p * (1 - p));
    EXPECT_NEAR(static_cast<double>(kept), kN * p, 4 * sigma) << "rate " << rate;
  }
}

TEST(Dropout, MaskMatchesThePublishedRecipe) {
  // Other backends reproduce masks from dropout_keep; the interpreter must agree.
  DropoutGraph d(0.25);
  Tensor y = d.run(true, 99, 7);
  for (int64_t i = 0; i < kN; ++i)
    ASSERT_EQ(y[i] != 0.0, dropout_keep(99, fnv1a64("drop1"), 7, static_cast<uint64_t>(i), 0.25f)) << i;
}

TEST(Dropout, IdentityOutsideTrainingAndAtRateZero) {
  DropoutGraph d(0.5);
  Tensor y = d.run(false, 5, 1, 3.0);
  for (double v : y.data) ASSERT_EQ(v, 3.0);
  DropoutGraph zero(0.0);
  for (double v : zero.run(true, 5, 1, 3.0).data) ASSERT_EQ(v, 3.0);
}

TEST(Dropout, RateOutOfRangeIsAnErrorNamingTheNode) {
  for (double rate : {1.0, -0.1}) {
    try {
      DropoutGraph d(rate);
      FAIL() << "expected an error for rate " << rate;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("drop1"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("rate"), std::string::npos) << e.what();
    }
  }
}

TEST(Dropout, GradientAppliesTheSameMaskAndScale) {
  DropoutGraph d(0.4);
  GraphBuilder b(d.g);
  auto dy = b.input("dy", {DType::f32, {kN}});
  const Node& fwd = d.g.nodes.back();
  const OpDef* def = find_op("dropout");
  ASSERT_TRUE(def && def->grad);
  auto dx = def->grad(b, Node(fwd), {dy});
  ASSERT_EQ(dx.size(), 1u);
  const Node& bwd = d.g.nodes.back();
  EXPECT_EQ(bwd.op, "dropout");
  EXPECT_EQ(bwd.attr_float("rate"), 0.4);
  EXPECT_EQ(static_cast<uint64_t>(bwd.attr_int("key")), fnv1a64("drop1"));

  EvalContext ctx;
  ctx.training = true;
  ctx.seed = 3;
  ctx.step = 2;
  Tensor ones({DType::f32, {kN}}, std::vector<double>(kN, 1.0));
  auto out = RefInterpreter(d.g).run({{"x", ones}, {"dy", ones}}, {d.y, dx[0]}, ctx);
  EXPECT_EQ(out.at(d.y).data, out.at(dx[0]).data);
}

}  // namespace dlc
