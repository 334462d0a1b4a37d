#include <gtest/gtest.h>

#include <cmath>

#include "compiler/fusion.h"
#include "ir/builder.h"
#include "ir/error.h"
#include "ir/philox.h"
#include "reference/ref_interpreter.h"
#include "tests/cpu_test_util.h"
#include "tests/kernel_test_util.h"
#include "tests/test_util.h"

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

// --- dropout in kernel programs (cpu) ------------------------------------------

namespace {

/// Mask loads (Access::mask) in the loop kernels and GEMM epilogues of `p`.
int mask_loads(const Program& p) {
  int n = 0;
  for (const Step& s : p.steps) {
    const LoopKernel* k = s.loop() ? s.loop() : s.gemm() && s.gemm()->has_epilogue() ? &s.gemm()->epilogue : nullptr;
    if (k)
      for (const Access& a : k->loads) n += a.mask ? 1 : 0;
  }
  return n;
}

/// A cpu executable of `p` with `seed` whose graph declares a STEP input,
/// so each call's step number comes from the "step" feed, as in dlrun train.
std::unique_ptr<Executor> cpu_with_step(const Program& p, uint64_t seed) {
  proto::Executable exe = test::make_executable({p}, {});
  exe.set_seed(seed);
  auto* in = exe.mutable_graph()->add_inputs();
  in->set_name("step");
  *in->mutable_type() = to_proto(TensorType{DType::f32, {}});
  in->set_role(proto::STEP);
  return make_cpu_executor(exe, 3);
}

}  // namespace

TEST(DropoutKernels, CpuMaskIsTheReferenceMaskBitForBit) {
  // Odd sizes, so Philox blocks of four straddle rows; y is stored in order,
  // transposed (yt) and summed per row (rows), all from one mask.
  const int64_t r = 37, c = 53;
  const float rate = 0.3f;
  const uint64_t seed = 12345;
  test::DropoutViews views = test::dropout_views(r, c, rate);
  const Graph& g = views.g;
  const Program& p = views.p;
  const std::string &y = views.y, &yt = views.yt, &rows = views.rows;
  EXPECT_GE(mask_loads(p), 1) << print_program(p);
  auto cpu = cpu_with_step(p, seed);
  Tensor xs = test::random_tensor({r, c}, 3, 0.5, 2);  // kept values stay non-zero
  for (uint64_t step : {uint64_t{1}, uint64_t{2}, uint64_t{1} << 40}) {
    SCOPED_TRACE("step " + std::to_string(step));
    std::map<std::string, HostTensor> outs;
    cpu->run("train_step", {{"x", to_host(xs)}, {"step", to_host(Tensor({DType::f32, {}}, {double(step)}))}}, &outs);
    EvalContext ctx;
    ctx.training = true;
    ctx.seed = seed;
    ctx.step = step;
    auto want = RefInterpreter(g).run({{"x", xs}}, {y, yt, rows}, ctx);
    Tensor got = to_tensor(outs.at(y)), got_t = to_tensor(outs.at(yt));
    for (int64_t i = 0; i < r * c; ++i) {
      ASSERT_EQ(got[i] != 0.0, dropout_keep(seed, fnv1a64("drop1"), step, static_cast<uint64_t>(i), rate)) << i;
      ASSERT_EQ(got[i] != 0.0, want.at(y)[i] != 0.0) << i;
      ASSERT_NEAR(got[i], want.at(y)[i], 1e-6 * std::fabs(want.at(y)[i])) << i;
      ASSERT_EQ(got_t[(i % c) * r + i / c], got[i]) << i;
    }
    EXPECT_LE(test::relative_error(to_tensor(outs.at(rows)), want.at(rows)).error, 1e-5);
  }
}

TEST(DropoutKernels, FusesWithoutAKernelOfItsOwn) {
  // x -> relu -> dropout -> matmul: the relu's kernel draws the mask (or
  // the epilogue of a GEMM before it); dropout adds no step.
  auto build = [](bool with_dropout) {
    Graph g;
    GraphBuilder b(g);
    auto x = b.input("x", {DType::f32, {16, 24}});
    auto w = b.input("w", {DType::f32, {24, 8}});
    auto h = b.op("relu", {x});
    if (with_dropout) h = b.op("dropout", {h}, {{"rate", attr_f(0.5)}}, "drop");
    auto y = b.matmul(h, w);
    return build_program(g, {"train_step", {y}, {}, true});
  };
  Program with = build(true), without = build(false);
  EXPECT_EQ(with.kernel_count(), without.kernel_count()) << print_program(with);
  EXPECT_EQ(with.kernel_count(), 2) << print_program(with);
  EXPECT_EQ(mask_loads(with), 1) << print_program(with);
  EXPECT_EQ(mask_loads(without), 0);
}

TEST(DropoutKernels, TrainingProgramsOfTheDropoutMlpMatchTheReference) {
  // Forward and gradient (a dropout with the same key) draw one mask; the
  // whole train step, optimizer included, agrees with the interpreter.
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {8, 12}});
  auto w = b.input("w", {DType::f32, {12, 5}});
  auto h = b.op("dropout", {b.op("relu", {x})}, {{"rate", attr_f(0.25)}}, "drop");
  auto y = b.matmul(h, w);
  auto dy = b.input("dy", {DType::f32, {8, 12}});
  auto dx = find_op("dropout")->grad(b, Node(g.nodes[1]), {dy});  // a copy: grad adds nodes
  test::expect_cpu_matches_reference(g, {"train_step", {y, dx[0]}, {}, true}, test::random_feeds(g, 5), 1e-5);
}

TEST(DropoutKernels, PredictProgramsDrawNoMask) {
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {4, 6}});
  auto y = b.op("dropout", {b.op("relu", {x})}, {{"rate", attr_f(0.5)}}, "drop");
  EXPECT_EQ(mask_loads(build_program(g, {"predict", {y}, {}, false})), 0);
  EXPECT_EQ(mask_loads(build_program(g, {"train_step", {y}, {}, true})), 1);
}

TEST(DropoutKernels, ANodeWithoutALoweringIsACompileErrorNamingIt) {
  // Kernel programs have no reference fallback: a composite that was not
  // expanded (build_program expands them; fusion alone does not) cannot be
  // lowered, and the error names the node and its op.
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {4, 6}});
  auto y = b.op("softmax", {x}, {}, "probs_node");
  try {
    plan_fusion(g, {"predict", {y}, {}, false});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("probs_node"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("softmax"), std::string::npos) << e.what();
  }
}

}  // namespace dlc
