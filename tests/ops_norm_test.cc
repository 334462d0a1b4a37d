// batch_norm and flatten: shapes, errors naming the shapes, values against
// float64 formulas, and batch_norm compiled into a model: the running
// statistics after train steps follow PyTorch's rule (momentum, unbiased
// variance), and predict normalizes with them.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "compiler/pipeline.h"
#include "dlrt.hpp"
#include "frontend/model_loader.h"
#include "ir/builder.h"
#include "ir/error.h"
#include "kernel/executable.h"
#include "reference/ref_interpreter.h"
#include "tests/cpu_test_util.h"
#include "tests/ops_test_util.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

using test::contains_all;
using test::infer_type;
using test::shape_error;

TensorType f32(std::vector<int64_t> dims) { return {DType::f32, std::move(dims)}; }

std::vector<TensorType> bn_types(std::vector<int64_t> x, int64_t c) {
  return {f32(std::move(x)), f32({c}), f32({c}), f32({c}), f32({c})};
}

TEST(BatchNorm, OutputHasTheInputsShape) {
  EXPECT_EQ(infer_type("batch_norm", bn_types({8, 3, 4, 4}, 3)), f32({8, 3, 4, 4}));
  EXPECT_EQ(infer_type("batch_norm", bn_types({-1, 5}, 5)), f32({-1, 5}));
}

TEST(BatchNorm, ErrorsNameTheShapes) {
  std::vector<TensorType> t = bn_types({8, 3, 4, 4}, 3);
  t[1] = f32({4});
  EXPECT_TRUE(contains_all(shape_error("batch_norm", t), {"gamma must be f32[3]", "f32[8,3,4,4]", "got f32[4]"}));
  t = bn_types({8, 3}, 3);
  t[4] = {DType::f64, {3}};
  EXPECT_TRUE(contains_all(shape_error("batch_norm", t), {"running_var must be f32[3]", "got f64[3]"}));
  EXPECT_TRUE(contains_all(shape_error("batch_norm", bn_types({3}, 3)), {"rank 2 or more", "f32[3]"}));
  EXPECT_TRUE(contains_all(shape_error("batch_norm", bn_types({4, -1}, 1)), {"channel dim", "batch"}));
  EXPECT_TRUE(contains_all(shape_error("batch_norm", bn_types({4, 2}, 2), {{"momentum", attr_f(1.5)}}),
                           {"momentum 1.5", "[0, 1]"}));
  EXPECT_TRUE(contains_all(shape_error("batch_norm", bn_types({4, 2}, 2), {{"epsilon", attr_f(0)}}), {"epsilon 0"}));
}

/// y = (x - mean) / sqrt(var + eps) * gamma + beta per channel (dim 1), with
/// the batch's mean and biased variance or the given running ones.
Tensor batch_norm_formula(const Tensor& x, const std::vector<double>& gamma, const std::vector<double>& beta,
                          const std::vector<double>& mean_in, const std::vector<double>& var_in, bool training,
                          double eps) {
  const auto& d = x.type.dims;
  int64_t n = d[0], c = d[1], inner = x.numel() / (n * c);
  Tensor y(x.type);
  for (int64_t k = 0; k < c; ++k) {
    double mean = mean_in[k], var = var_in[k];
    if (training) {
      double s = 0, q = 0;
      for (int64_t b = 0; b < n; ++b)
        for (int64_t i = 0; i < inner; ++i) s += x[(b * c + k) * inner + i];
      mean = s / static_cast<double>(n * inner);
      for (int64_t b = 0; b < n; ++b)
        for (int64_t i = 0; i < inner; ++i) q += std::pow(x[(b * c + k) * inner + i] - mean, 2);
      var = q / static_cast<double>(n * inner);
    }
    for (int64_t b = 0; b < n; ++b)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t e = (b * c + k) * inner + i;
        y[e] = (x[e] - mean) / std::sqrt(var + eps) * gamma[k] + beta[k];
      }
  }
  return y;
}

Tensor vec(const std::vector<double>& v) { return Tensor(f32({static_cast<int64_t>(v.size())}), v); }

Tensor run_batch_norm(const std::vector<Tensor>& in, bool training, const Attrs& attrs = {}) {
  Graph g;
  GraphBuilder b(g);
  std::vector<std::string> names;
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < in.size(); ++i) {
    names.push_back(b.input("in" + std::to_string(i), in[i].type));
    feeds[names.back()] = in[i];
  }
  std::string y = b.op("batch_norm", names, attrs, "y");
  EvalContext ctx;
  ctx.training = training;
  return RefInterpreter(g).run(feeds, {y}, ctx).at(y);
}

TEST(BatchNorm, ReferenceUsesBatchStatisticsInTrainingAndRunningOnesOtherwise) {
  Tensor x = test::random_tensor({4, 3, 2, 5}, 7, -3, 3);
  std::vector<double> gamma = {0.5, 2, -1}, beta = {0.1, -0.2, 3}, rm = {0.3, -0.5, 1}, rv = {0.8, 2, 0.25};
  std::vector<Tensor> in = {x, vec(gamma), vec(beta), vec(rm), vec(rv)};
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "inference");
    Tensor want = batch_norm_formula(x, gamma, beta, rm, rv, training, 1e-5);
    EXPECT_LT(test::relative_error(run_batch_norm(in, training), want).error, 1e-12);
    Tensor want_eps = batch_norm_formula(x, gamma, beta, rm, rv, training, 0.5);
    EXPECT_LT(test::relative_error(run_batch_norm(in, training, {{"epsilon", attr_f(0.5)}}), want_eps).error, 1e-12);
  }
  // Rank 2 (BatchNorm1d): statistics over the batch only.
  Tensor x2 = test::random_tensor({6, 3}, 8, -3, 3);
  in[0] = x2;
  Tensor want2 = batch_norm_formula(x2, gamma, beta, rm, rv, true, 1e-5);
  EXPECT_LT(test::relative_error(run_batch_norm(in, true), want2).error, 1e-12);
}

TEST(Flatten, KeepsTheDimsBeforeAxisAndTheBatch) {
  EXPECT_EQ(infer_type("flatten", {f32({-1, 2, 3, 3})}), f32({-1, 18}));
  EXPECT_EQ(infer_type("flatten", {f32({4, 2, 3, 5})}, {{"axis", attr_i(2)}}), f32({4, 2, 15}));
  EXPECT_EQ(infer_type("flatten", {f32({4, 2, 3})}, {{"axis", attr_i(-1)}}), f32({4, 2, 3}));
  EXPECT_EQ(infer_type("flatten", {f32({4, 2, 3})}, {{"axis", attr_i(0)}}), f32({24}));
  Tensor x = test::random_tensor({2, 3, 4}, 3);
  Tensor y = test::run_op("flatten", {x});
  EXPECT_EQ(y.type, f32({2, 12}));
  EXPECT_EQ(y.data, x.data);
}

TEST(Flatten, ErrorsNameTheShapeAndAxis) {
  EXPECT_TRUE(contains_all(shape_error("flatten", {f32({-1, 3})}, {{"axis", attr_i(0)}}),
                           {"axis 0", "batch dimension", "f32[batch,3]"}));
  EXPECT_TRUE(contains_all(shape_error("flatten", {f32({4, 3})}, {{"axis", attr_i(2)}}),
                           {"axis 2", "out of range", "f32[4,3]"}));
  EXPECT_TRUE(contains_all(shape_error("flatten", {f32({})}), {"scalar"}));
}

// --- batch_norm in a compiled model ---------------------------------------------------

constexpr int kN = 4, kC = 3, kHW = 4;  // x f32[4, 3, 2, 2]
constexpr double kMomentum = 0.2;

std::string bn_model(const std::string& extra_running_mean = "frozen: true") {
  return R"(
graph {
  inputs { name: "x" type { dtype: F32 dims: [-1, 3, 2, 2] } role: DATA }
  inputs { name: "target" type { dtype: F32 dims: [-1, 12] } role: LABEL }
  params { name: "gamma" type { dtype: F32 dims: [3] } init { data { values: [0.5, 1.5, -1] } } }
  params { name: "beta" type { dtype: F32 dims: [3] } init { data { values: [0.1, -0.3, 0.2] } } }
  params { name: "rm" type { dtype: F32 dims: [3] } init { zeros {} } )" + extra_running_mean + R"( }
  params { name: "rv" type { dtype: F32 dims: [3] } init { constant { value: 1 } } frozen: true }
  nodes { op: "batch_norm" inputs: ["x", "gamma", "beta", "rm", "rv"] outputs: "y"
          attrs { key: "momentum" value { f: 0.2 } } }
  nodes { op: "flatten" inputs: "y" outputs: "flat" }
  nodes { op: "mse" inputs: ["flat", "target"] outputs: "loss" }
  outputs: "y"
}
training { loss: "loss" optimizer { kind: "sgd" learning_rate: 0.1 } }
)";
}

std::vector<double> read_param(const dlrt::Model& m, const std::string& name, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  m.get_param(name, DLRT_F32, v.data(), n);
  return std::vector<double>(v.begin(), v.end());
}

class BatchNormModel : public testing::TestWithParam<std::string> {};

// Five train steps on different batches: after each, running_mean and
// running_var must be PyTorch's (1 - m) r + m s, with the unbiased variance
// n/(n-1)·var for running_var; predict then normalizes with exactly those.
TEST_P(BatchNormModel, RunningStatisticsFollowPyTorchAndPredictUsesThem) {
  const std::string dir = test::temp_dir();
  CompileOptions opts;
  opts.target = GetParam();
  opts.batch = kN;
  save_executable_atomic(compile_model(parse_model_text(bn_model(), "bn.pbtxt"), opts), dir + "/bn.dlc");
  dlrt::Model model(dir + "/bn.dlc");

  std::vector<double> rm(kC, 0.0), rv(kC, 1.0);
  const int64_t count = kN * kHW;  // values per channel
  Tensor x(f32({kN, kC, 2, 2}));
  std::vector<float> xf(static_cast<size_t>(x.numel())), target(kN * 12, 0.25f), y(xf.size());
  auto predict = [&] {
    std::vector<dlrt_input> in = {{"x", DLRT_F32, xf.data(), x.numel()}};
    std::vector<dlrt_output> out = {{"y", DLRT_F32, y.data(), x.numel()}};
    model.run("predict", in, out);
    return Tensor(x.type, std::vector<double>(y.begin(), y.end()));
  };
  for (int step = 1; step <= 5; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    Tensor drawn = test::random_tensor(x.type.dims, 100 + step, -2 + step, 2 + 2 * step);  // the mean drifts
    for (int64_t e = 0; e < x.numel(); ++e) x[e] = xf[e] = static_cast<float>(drawn[e]);
    std::vector<double> gamma = read_param(model, "gamma", kC), beta = read_param(model, "beta", kC);
    float lr = 0.1f, s = static_cast<float>(step), loss = 0;
    std::vector<dlrt_input> in = {{"x", DLRT_F32, xf.data(), x.numel()},
                                  {"target", DLRT_F32, target.data(), kN * 12},
                                  {"learning_rate", DLRT_F32, &lr, 1},
                                  {"step", DLRT_F32, &s, 1}};
    std::vector<dlrt_output> out = {{"loss", DLRT_F32, &loss, 1}, {"y", DLRT_F32, y.data(), x.numel()}};
    model.run("train_step", in, out);
    // train_step's y: the batch's statistics, gamma and beta before the update.
    Tensor got(x.type, std::vector<double>(y.begin(), y.end()));
    EXPECT_LT(test::relative_error(got, batch_norm_formula(x, gamma, beta, rm, rv, true, 1e-5)).error, 1e-5);
    for (int k = 0; k < kC; ++k) {
      double sum = 0, sq = 0;
      for (int b = 0; b < kN; ++b)
        for (int i = 0; i < kHW; ++i) sum += x[(b * kC + k) * kHW + i];
      double mean = sum / count;
      for (int b = 0; b < kN; ++b)
        for (int i = 0; i < kHW; ++i) sq += std::pow(x[(b * kC + k) * kHW + i] - mean, 2);
      rm[k] = (1 - kMomentum) * rm[k] + kMomentum * mean;
      rv[k] = (1 - kMomentum) * rv[k] + kMomentum * sq / (count - 1);
    }
    std::vector<double> got_rm = read_param(model, "rm", kC), got_rv = read_param(model, "rv", kC);
    for (int k = 0; k < kC; ++k) {
      EXPECT_NEAR(got_rm[k], rm[k], 1e-5 * std::max(1.0, std::abs(rm[k]))) << "running_mean[" << k << "]";
      EXPECT_NEAR(got_rv[k], rv[k], 1e-5 * std::max(1.0, std::abs(rv[k]))) << "running_var[" << k << "]";
    }
    // predict: the running statistics and the trained gamma and beta.
    Tensor want = batch_norm_formula(x, read_param(model, "gamma", kC), read_param(model, "beta", kC), rm, rv, false,
                                     1e-5);
    EXPECT_LT(test::relative_error(predict(), want).error, 1e-5);
  }
  // The running mean moved far from its start: predict is not the batch form.
  EXPECT_GT(read_param(model, "rm", kC)[0], 1.0);
}

INSTANTIATE_TEST_SUITE_P(Targets, BatchNormModel, testing::Values("cpu", "ref"),
                         [](const testing::TestParamInfo<std::string>& i) { return i.param; });

TEST(BatchNormModel, RunningStatisticsMustBeFrozenParameters) {
  CompileOptions opts;
  opts.batch = kN;
  try {
    compile_model(parse_model_text(bn_model(""), "bn.pbtxt"), opts);
    FAIL() << "a trainable running_mean compiled";
  } catch (const Error& e) {
    EXPECT_TRUE(contains_all(e.what(), {"bn.pbtxt", "batch_norm", "'rm'", "frozen"})) << e.what();
  }
}

TEST(BatchNormModel, TrainingNeedsMoreThanOneValuePerChannel) {
  CompileOptions opts;
  opts.batch = 1;
  std::string text = bn_model();
  text.replace(text.find("[-1, 3, 2, 2]"), 13, "[-1, 3, 1, 1]");
  text.replace(text.find("[-1, 12]"), 8, "[-1, 3]");
  try {
    compile_model(parse_model_text(text, "bn.pbtxt"), opts);
    FAIL() << "batch_norm trained on one value per channel";
  } catch (const Error& e) {
    EXPECT_TRUE(contains_all(e.what(), {"batch_norm", "more than one value per channel", "f32[1,3,1,1]"})) << e.what();
  }
}

}  // namespace
}  // namespace dlc
