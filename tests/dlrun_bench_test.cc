// `dlrun bench` run as a tool: on the hand-built tiny executable (ref target)
// and on the MNIST MLP compiled by `dlc compile` for the cpu target.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernel/executable.h"
#include "runtime/npy.h"
#include "runtime/safetensors.h"
#include "tests/runtime_test_util.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

/// True when `text` is one line whose braces and brackets balance outside strings.
bool balanced_json_line(const std::string& text) {
  std::vector<char> open;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') open.push_back(c);
    else if (c == '}' || c == ']') {
      if (open.empty() || open.back() != (c == '}' ? '{' : '[')) return false;
      open.pop_back();
    } else if (c == '\n' && i + 1 != text.size()) return false;
  }
  return open.empty() && !in_string && !text.empty() && text[0] == '{';
}

/// Every value of `"key":NUMBER` in `json`, in order; NAN for a non-number.
std::vector<double> numbers(const std::string& json, const std::string& key) {
  std::vector<double> out;
  const std::string pattern = "\"" + key + "\":";
  for (size_t at = json.find(pattern); at != std::string::npos; at = json.find(pattern, at + 1)) {
    const char* start = json.c_str() + at + pattern.size();
    char* end = nullptr;
    double v = std::strtod(start, &end);
    out.push_back(end == start ? NAN : v);
  }
  return out;
}

/// Counts occurrences of `part` in `text`.
size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

class DlrunBench : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir();
    model_ = dir_ + "/tiny.dlc";
    save_executable_atomic(test::tiny_executable(4), model_);
  }
  /// Runs `dlrun bench ARGS`; returns the exit status, output in out_.
  int bench(const std::string& args) { return test::run_command(test::tool_path("dlrun") + " bench " + args, &out_); }

  std::string dir_, model_, out_;
};

TEST_F(DlrunBench, JsonHasPositiveFiniteTimingsForEveryEntry) {
  ASSERT_EQ(bench(model_ + " --steps 7 --warmup 2 --json"), 0) << out_;
  ASSERT_TRUE(balanced_json_line(out_)) << out_;
  EXPECT_EQ(count(out_, "\"entry\":\"train_step\""), 1u) << out_;
  EXPECT_EQ(count(out_, "\"entry\":\"predict\""), 1u) << out_;
  EXPECT_EQ(numbers(out_, "batch"), std::vector<double>{4});
  EXPECT_EQ(numbers(out_, "steps"), (std::vector<double>{7, 7}));
  auto median = numbers(out_, "median_ms"), mean = numbers(out_, "mean_ms"), lo = numbers(out_, "min_ms"),
       hi = numbers(out_, "max_ms"), rate = numbers(out_, "samples_per_s");
  ASSERT_EQ(median.size(), 2u);
  ASSERT_EQ(mean.size(), 2u);
  ASSERT_EQ(rate.size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_TRUE(std::isfinite(median[k]) && median[k] > 0) << out_;
    EXPECT_TRUE(std::isfinite(mean[k]) && mean[k] > 0) << out_;
    EXPECT_LE(lo[k], median[k]);
    EXPECT_LE(median[k], hi[k]);
    // samples per second is the batch over the median call.
    EXPECT_NEAR(rate[k], 4 / (median[k] / 1000), 1e-4 * rate[k]) << out_;
  }
  auto loss = numbers(out_, "last_loss");
  ASSERT_EQ(loss.size(), 1u) << out_;
  EXPECT_TRUE(std::isfinite(loss[0]) && loss[0] >= 0) << out_;
  auto rss = numbers(out_, "peak_rss_bytes");
  ASSERT_EQ(rss.size(), 1u);
  EXPECT_GT(rss[0], 1 << 20) << out_;  // a process of this size holds at least a MiB
}

TEST_F(DlrunBench, TableAndOneEntry) {
  ASSERT_EQ(bench(model_ + " --entry predict --steps 3 --warmup 0"), 0) << out_;
  EXPECT_NE(out_.find("target ref, batch 4"), std::string::npos) << out_;
  EXPECT_NE(out_.find("  predict "), std::string::npos) << out_;
  EXPECT_EQ(out_.find("train_step"), std::string::npos) << out_;
  EXPECT_NE(out_.find("peak RSS: "), std::string::npos) << out_;
}

TEST_F(DlrunBench, SaveInitialWritesTheWeightsAsLoaded) {
  std::string ckpt = dir_ + "/init.safetensors";
  ASSERT_EQ(bench(model_ + " --steps 3 --save-initial " + ckpt), 0) << out_;
  Checkpoint c = load_checkpoint(ckpt);
  ASSERT_TRUE(c.tensors.count("w") && c.tensors.count("b")) << out_;
  const HostTensor& w = c.tensors.at("w");
  ASSERT_EQ(w.numel(), 6);
  // Written before the train steps ran, so still the executable's initial values.
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(w.get(i), test::tiny_w()[static_cast<size_t>(i)]) << i;
}

TEST_F(DlrunBench, GivenInputRowsAreUsedAndChecked) {
  // Two rows, repeated to fill the batch of 4; one call before any update,
  // so the loss is the tiny model's at its initial weights.
  const std::vector<float> x = {1, 2, 3, 4, 5, 6}, y = {0.5f, -1, 2, 0.25f};
  write_npy(dir_ + "/x.npy", test::host_f32({2, 3}, x));
  write_npy(dir_ + "/y.npy", test::host_f32({2, 2}, y));
  ASSERT_EQ(bench(model_ + " --entry train_step --steps 1 --warmup 0 --input " + dir_ + "/x.npy --input y=" + dir_ +
                  "/y.npy --json"),
            0)
      << out_;
  double want = 0;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 2; ++c) {
      double pred = test::tiny_b()[c];
      for (int k = 0; k < 3; ++k) pred += double(x[(r % 2) * 3 + k]) * test::tiny_w()[k * 2 + c];
      want += (pred - y[(r % 2) * 2 + c]) * (pred - y[(r % 2) * 2 + c]) / 8;
    }
  auto loss = numbers(out_, "last_loss");
  ASSERT_EQ(loss.size(), 1u) << out_;
  EXPECT_NEAR(loss[0], want, 1e-5 * want) << out_;

  write_npy(dir_ + "/bad.npy", test::host_f32({1, 4}, {1, 2, 3, 4}));
  EXPECT_EQ(bench(model_ + " --steps 3 --input x=" + dir_ + "/bad.npy"), 1) << out_;
  EXPECT_NE(out_.find("bad.npy: 4 values, not whole rows of 3 for input 'x' f32[4,3]"), std::string::npos) << out_;
  EXPECT_EQ(bench(model_ + " --steps 3 --input q=" + dir_ + "/x.npy"), 1) << out_;
  EXPECT_NE(out_.find("the model has no input 'q'"), std::string::npos) << out_;
}

TEST_F(DlrunBench, UsageErrors) {
  EXPECT_EQ(bench(""), 2);
  EXPECT_NE(out_.find("needs MODEL.dlc"), std::string::npos) << out_;
  EXPECT_EQ(bench(model_ + " --steps 0"), 2);
  EXPECT_NE(out_.find("--steps: '0' is out of range: must be >= 1"), std::string::npos) << out_;
  // A malformed number is a usage error too, naming the flag and the value.
  EXPECT_EQ(bench(model_ + " --steps many"), 2);
  EXPECT_NE(out_.find("--steps: 'many' is not a whole number"), std::string::npos) << out_;
  EXPECT_EQ(bench(model_ + " --entry backward"), 2);
  EXPECT_NE(out_.find("--entry takes train_step or predict, not 'backward'"), std::string::npos) << out_;
  EXPECT_EQ(bench(model_ + " --frobnicate"), 2);
  EXPECT_NE(out_.find("unknown option '--frobnicate'"), std::string::npos) << out_;
  EXPECT_EQ(bench(model_ + " --warmup"), 2);
  EXPECT_NE(out_.find("--warmup needs a value"), std::string::npos) << out_;
  EXPECT_EQ(bench(model_ + " --profile --steps 2"), 1);
  EXPECT_NE(out_.find("--profile needs a cpu-target executable, not ref"), std::string::npos) << out_;
  EXPECT_EQ(bench(dir_ + "/missing.dlc"), 1);
  EXPECT_NE(out_.find("missing.dlc: cannot open"), std::string::npos) << out_;
}

TEST(DlrunBenchEndToEnd, CompiledMlpWithProfile) {
  std::string dir = test::temp_dir(), exe = dir + "/mlp.dlc", out;
  ASSERT_EQ(test::run_command(test::tool_path("dlc") + " compile " + test::source_path("models/mlp_mnist.pbtxt") +
                                  " --batch 16 -o " + exe,
                              &out),
            0)
      << out;
  ASSERT_EQ(test::run_command(test::tool_path("dlrun") + " bench " + exe +
                                  " --steps 4 --warmup 1 --threads 2 --profile --json",
                              &out),
            0)
      << out;
  ASSERT_TRUE(balanced_json_line(out)) << out;
  EXPECT_EQ(numbers(out, "threads"), std::vector<double>{2});
  for (double v : numbers(out, "median_ms")) EXPECT_TRUE(std::isfinite(v) && v > 0) << out;
  auto loss = numbers(out, "last_loss");
  ASSERT_EQ(loss.size(), 1u);
  EXPECT_TRUE(std::isfinite(loss[0]) && loss[0] > 0) << out;
  // One profile row per step of both programs, GEMMs among them.
  auto step_ms = numbers(out, "mean_ms");
  ASSERT_GT(step_ms.size(), 2u + 4u) << out;  // 2 entries' means + at least 4 predict steps
  for (double v : step_ms) EXPECT_TRUE(std::isfinite(v) && v >= 0) << out;
  EXPECT_GE(count(out, "\"step\":\"gemm 16x256x784"), 2u) << out;  // first layer in both programs
  // Each entry's C API calls: medians of their times, of their kernels'
  // spans, and of each call's time less its span (the time outside the
  // kernels: a call's binding and checks, never negative).
  EXPECT_EQ(numbers(out, "calls"), (std::vector<double>{4, 4})) << out;
  for (const char* key : {"call_median_ms", "kernels_median_ms"}) {
    auto v = numbers(out, key);
    ASSERT_EQ(v.size(), 2u) << key << "\n" << out;
    for (double x : v) EXPECT_TRUE(std::isfinite(x) && x > 0) << key << "\n" << out;
  }
  for (const char* key : {"outside_median_us", "outside_warm_median_us"}) {  // after a pause; back to back
    auto outside = numbers(out, key);
    ASSERT_EQ(outside.size(), 2u) << key << "\n" << out;
    for (double x : outside) EXPECT_TRUE(std::isfinite(x) && x >= 0) << key << "\n" << out;
  }
}

}  // namespace
}  // namespace dlc
