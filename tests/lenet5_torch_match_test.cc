// LeNet-5 (models/lenet5.pbtxt) trains like PyTorch: from the same initial
// weights (tests/fixtures/lenet5_init.safetensors) on the same 5 batches of
// 32 Fashion-MNIST training images in file order, dlc's cpu target reports
// PyTorch's loss at each of 5 Adam steps and ends with PyTorch's weights, by
// a few summary numbers per parameter (tests/fixtures/lenet5_torch_steps.json,
// written by tests/fixtures/lenet5_torch_steps.py). The float64 interpreter
// (ref target) follows the same losses.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/pipeline.h"
#include "frontend/model_loader.h"
#include "ir/error.h"
#include "runtime/datasets.h"
#include "runtime/safetensors.h"
#include "runtime/session.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

const char* kFashion = "/usr/share/datasets/fashion-mnist";
constexpr int64_t kBatch = 32, kSteps = 5;
constexpr double kLearningRate = 1e-3;
// float32 against PyTorch's float32: the two sum in other orders. Measured
// against PyTorch in float64, PyTorch's float32 losses are off by < 1e-7 and
// its summaries by < 1e-4 (conv1_w's update), so these leave room for dlc's
// own rounding and catch any wrong gradient, which moves them by percents.
constexpr double kLossTolerance = 1e-4, kSummaryTolerance = 1e-3;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Sum, sum of |v| and sum of squares, as the fixture script computes them.
struct Summary {
  double sum = 0, sum_abs = 0, sum_sq = 0;
};

Summary summarize(const std::vector<double>& v) {
  Summary s;
  for (double x : v) s.sum += x, s.sum_abs += std::fabs(x), s.sum_sq += x * x;
  return s;
}

/// The fixture JSON, read by key: the layout lenet5_torch_steps.py writes
/// (no general JSON parser in the tree, and the file is ours).
class Fixture {
 public:
  explicit Fixture(std::string text) : text_(std::move(text)) {}
  /// The numbers of the array under "key".
  std::vector<double> array(const std::string& key) const {
    std::vector<double> out;
    size_t at = text_.find("\"" + key + "\":");
    if (at == std::string::npos) return out;
    at = text_.find('[', at);
    size_t end = text_.find(']', at);
    for (const char* p = text_.c_str() + at + 1; p < text_.c_str() + end;) {
      char* next = nullptr;
      double v = std::strtod(p, &next);
      if (next == p) {
        ++p;
        continue;
      }
      out.push_back(v);
      p = next;
    }
    return out;
  }
  /// The summary of parameter `name` in section `section` ("params" or "updates").
  bool summary(const std::string& section, const std::string& name, Summary* s) const {
    size_t at = text_.find("\"" + section + "\":");
    if (at == std::string::npos) return false;
    at = text_.find("\"" + name + "\":", at);
    if (at == std::string::npos) return false;
    size_t end = text_.find('}', at);
    auto number = [&](const std::string& key, double* v) {
      size_t k = text_.find("\"" + key + "\":", at);
      if (k == std::string::npos || k > end) return false;
      *v = std::strtod(text_.c_str() + k + key.size() + 3, nullptr);
      return true;
    };
    return number("sum", &s->sum) && number("sum_abs", &s->sum_abs) && number("sum_sq", &s->sum_sq);
  }

 private:
  std::string text_;
};

std::vector<double> values(const HostTensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.get(i);
  return v;
}

/// What a run of the 5 steps leaves: each step's loss and the trained weights.
struct TrainingRun {
  std::vector<double> losses;
  std::map<std::string, HostTensor> params;
};

/// Compiles models/lenet5.pbtxt for `target` at batch 32, loads the
/// fixture's initial weights and runs 5 train steps on the first 160 images.
TrainingRun train_five_steps(const std::string& target, const Dataset& data, const std::string& init) {
  CompileOptions opts;
  opts.target = target;
  opts.batch = kBatch;
  Session s(compile_model(load_model(test::source_path("models/lenet5.pbtxt")), opts), "lenet5 (" + target + ")");
  s.load_weights(init);
  const EntryInfo& train = s.entry("train_step");
  const std::string loss_name = s.executable().loss();
  TrainingRun run;
  for (int64_t step = 1; step <= kSteps; ++step) {
    std::map<std::string, HostTensor> feeds;
    const int64_t first = (step - 1) * kBatch;
    for (const TensorInfo& in : train.inputs) {
      HostTensor t(in.type);
      switch (in.role) {
        case proto::DATA:
          for (int64_t i = 0; i < t.numel(); ++i) t.set(i, data.x[static_cast<size_t>(first * 784 + i)]);
          break;
        case proto::LABEL:
          for (int64_t i = 0; i < t.numel(); ++i) t.set(i, data.y[static_cast<size_t>(first + i)]);
          break;
        case proto::LEARNING_RATE: t.set(0, kLearningRate); break;
        case proto::STEP: t.set(0, static_cast<double>(step)); break;
        default: ADD_FAILURE() << "train_step input '" << in.name << "' has a role this test does not feed";
      }
      feeds[in.name] = std::move(t);
    }
    std::map<std::string, HostTensor> outputs;
    s.run("train_step", std::move(feeds), &outputs);
    run.losses.push_back(outputs.at(loss_name).get(0));
  }
  for (const TensorInfo& p : s.params())
    if (p.trainable) run.params[p.name] = s.get_param(p.name);
  return run;
}

void expect_near_summary(const Summary& got, const Summary& want, const std::string& what) {
  // A sum can be near zero, so its error is measured against the sum of |v|.
  EXPECT_NEAR(got.sum, want.sum, kSummaryTolerance * want.sum_abs) << what << ": sum";
  EXPECT_NEAR(got.sum_abs, want.sum_abs, kSummaryTolerance * want.sum_abs) << what << ": sum of |v|";
  EXPECT_NEAR(got.sum_sq, want.sum_sq, kSummaryTolerance * want.sum_sq) << what << ": sum of squares";
}

class Lenet5TorchMatch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    struct stat st;
    if (stat((std::string(kFashion) + "/train-images-idx3-ubyte.gz").c_str(), &st) != 0) return;
    data_ = new Dataset(load_mnist_split(kFashion, "train", kBatch * kSteps));
    try {
      cpu_ = new TrainingRun(train_five_steps("cpu", *data_, init_path()));
    } catch (const Error& e) {  // e.g. an op the compiler lacks: each test names it
      setup_error_ = new std::string(e.what());
    }
  }
  static void TearDownTestSuite() {
    delete data_;
    delete cpu_;
    delete setup_error_;
    data_ = nullptr;
    cpu_ = nullptr;
    setup_error_ = nullptr;
  }
  void SetUp() override {
    if (!data_) GTEST_SKIP() << kFashion << " is not installed";
    if (setup_error_) FAIL() << "compiling or training models/lenet5.pbtxt for cpu: " << *setup_error_;
  }
  static std::string init_path() { return test::source_path("tests/fixtures/lenet5_init.safetensors"); }
  static Fixture fixture() { return Fixture(slurp(test::source_path("tests/fixtures/lenet5_torch_steps.json"))); }

  static Dataset* data_;
  static TrainingRun* cpu_;
  static std::string* setup_error_;
};
std::string* Lenet5TorchMatch::setup_error_ = nullptr;
Dataset* Lenet5TorchMatch::data_ = nullptr;
TrainingRun* Lenet5TorchMatch::cpu_ = nullptr;

TEST_F(Lenet5TorchMatch, CpuLossesMatchPytorchStepByStep) {
  std::vector<double> want = fixture().array("losses");
  ASSERT_EQ(want.size(), static_cast<size_t>(kSteps)) << "tests/fixtures/lenet5_torch_steps.json: no 5 losses";
  ASSERT_EQ(cpu_->losses.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(cpu_->losses[i], want[i], kLossTolerance * want[i]) << "step " << i + 1;
}

// The weights after 5 steps, and what the 5 steps changed in them (small
// next to the weights: a wrong update of a small parameter hides in the
// weights' sums, not in the change's).
TEST_F(Lenet5TorchMatch, CpuWeightsAfterFiveStepsMatchPytorch) {
  Fixture f = fixture();
  Checkpoint init = load_checkpoint(init_path());
  ASSERT_EQ(cpu_->params.size(), 10u) << "LeNet-5 has 10 trainable parameters";
  for (const auto& [name, value] : cpu_->params) {
    Summary want_params, want_update;
    ASSERT_TRUE(f.summary("params", name, &want_params) && f.summary("updates", name, &want_update))
        << "tests/fixtures/lenet5_torch_steps.json has no summaries of parameter '" << name << "'";
    ASSERT_TRUE(init.tensors.count(name)) << init_path() << ": no parameter '" << name << "'";
    std::vector<double> now = values(value), before = values(init.tensors.at(name));
    ASSERT_EQ(now.size(), before.size()) << name;
    std::vector<double> change(now.size());
    for (size_t i = 0; i < now.size(); ++i) change[i] = now[i] - before[i];
    expect_near_summary(summarize(now), want_params, "parameter '" + name + "'");
    expect_near_summary(summarize(change), want_update, "update of parameter '" + name + "'");
  }
}

// The float64 interpreter takes the same 5 steps: its losses match cpu's
// (float32) and PyTorch's.
TEST_F(Lenet5TorchMatch, RefLossesMatchCpuAndPytorch) {
  TrainingRun ref = train_five_steps("ref", *data_, init_path());
  std::vector<double> want = fixture().array("losses");
  ASSERT_EQ(ref.losses.size(), cpu_->losses.size());
  ASSERT_EQ(ref.losses.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(cpu_->losses[i], ref.losses[i], kLossTolerance * ref.losses[i]) << "cpu against ref, step " << i + 1;
    EXPECT_NEAR(ref.losses[i], want[i], kLossTolerance * want[i]) << "ref against PyTorch, step " << i + 1;
  }
}

}  // namespace
}  // namespace dlc
