// dlrt_run on the cpu target binds the caller's buffers in place: inputs
// are read where they lie, outputs written straight into the caller's
// memory, and a call allocates nothing. These tests check that the results
// are the same bits as the copying path (Session::run with HostTensors),
// that overlapping or misaligned buffers still get the right answer, and
// count the heap allocations of a call.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "compiler/pipeline.h"
#include "dlrt.h"
#include "frontend/model_loader.h"
#include "kernel/executable.h"
#include "runtime/session.h"
#include "tests/test_util.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_allocations{0};
}  // namespace

// Every heap allocation of this test binary passes here; only those made
// while g_counting is set are counted. Every plain form of new and delete is
// replaced, so each pair is malloc/free (ASan checks that they match).
namespace {
void* counted_malloc(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
}  // namespace
void* operator new(size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace dlc {
namespace {

constexpr int64_t kBatch = 8;

class BoundRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::temp_dir());
    Model m = load_model(test::source_path("models/mlp_mnist.pbtxt"));
    CompileOptions opts;
    opts.target = "cpu";
    opts.batch = kBatch;
    opts.seed = 3;
    save_executable_atomic(compile_model(m, opts), *dir_ + "/mlp.dlc");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string path() { return *dir_ + "/mlp.dlc"; }

  void SetUp() override {
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> pixel(0, 1);
    x_.resize(kBatch * 784);
    for (float& v : x_) v = pixel(rng);
    for (int64_t i = 0; i < kBatch; ++i) labels_.push_back(static_cast<int32_t>(i % 10));
    ASSERT_EQ(dlrt_model_load(path().c_str(), &m_), DLRT_OK) << dlrt_last_error();
  }
  void TearDown() override { dlrt_model_free(m_); }

  /// predict through dlrt_run with the output at `probs`.
  void predict(const float* x, float* probs) {
    dlrt_input in = {"x", DLRT_F32, x, kBatch * 784};
    dlrt_output out = {"probs", DLRT_F32, probs, kBatch * 10};
    ASSERT_EQ(dlrt_run(m_, "predict", &in, 1, &out, 1), DLRT_OK) << dlrt_last_error();
  }

  /// The same predict through the copying path, on a session of its own.
  std::vector<float> predict_by_copies() {
    auto s = Session::open(path());
    std::map<std::string, HostTensor> in, out;
    in["x"] = HostTensor::copy_of(TensorType{DType::f32, {kBatch, 784}}, x_.data());
    s->run("predict", std::move(in), &out);
    const HostTensor& p = out.at("probs");
    return std::vector<float>(p.as<float>(), p.as<float>() + p.numel());
  }

  static std::string* dir_;
  std::vector<float> x_;
  std::vector<int32_t> labels_;
  dlrt_model* m_ = nullptr;
};

std::string* BoundRun::dir_ = nullptr;

bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

TEST_F(BoundRun, OutputsWrittenInPlaceEqualTheCopyingPath) {
  // NaN everywhere first: every element must be written by the kernels.
  std::vector<float> probs(kBatch * 10, NAN);
  predict(x_.data(), probs.data());
  std::vector<float> want = predict_by_copies();
  EXPECT_TRUE(same_bits(probs.data(), want.data(), want.size()));
  for (int64_t r = 0; r < kBatch; ++r) {
    double sum = 0;
    for (int c = 0; c < 10; ++c) sum += probs[r * 10 + c];
    EXPECT_NEAR(sum, 1.0, 1e-5) << "row " << r;
  }
}

TEST_F(BoundRun, AnOutputOverlappingTheInputStillGetsTheRightAnswer) {
  std::vector<float> want = predict_by_copies();
  // probs written over the middle of x's own buffer: the kernels must read
  // x as it was, so the output goes through the executor's memory.
  std::vector<float> x = x_;
  predict(x.data(), x.data() + 100);
  EXPECT_TRUE(same_bits(x.data() + 100, want.data(), want.size()));
}

TEST_F(BoundRun, MisalignedBuffersStillGetTheRightAnswer) {
  std::vector<float> want = predict_by_copies();
  // Floats one byte off their alignment: copied in and out, not bound.
  std::vector<unsigned char> x_bytes(x_.size() * sizeof(float) + 1), probs_bytes(want.size() * sizeof(float) + 1);
  std::memcpy(x_bytes.data() + 1, x_.data(), x_.size() * sizeof(float));
  dlrt_input in = {"x", DLRT_F32, x_bytes.data() + 1, kBatch * 784};
  dlrt_output out = {"probs", DLRT_F32, probs_bytes.data() + 1, kBatch * 10};
  ASSERT_EQ(dlrt_run(m_, "predict", &in, 1, &out, 1), DLRT_OK) << dlrt_last_error();
  std::vector<float> got(want.size());
  std::memcpy(got.data(), probs_bytes.data() + 1, got.size() * sizeof(float));
  EXPECT_TRUE(same_bits(got.data(), want.data(), want.size()));
}

TEST_F(BoundRun, TrainingStepsEqualTheCopyingPathBitForBit) {
  auto copies = Session::open(path());
  float lr = 1e-3f;
  for (int step = 1; step <= 3; ++step) {
    float step_f = static_cast<float>(step), loss = NAN;
    dlrt_input in[] = {{"x", DLRT_F32, x_.data(), kBatch * 784},
                       {"label", DLRT_I32, labels_.data(), kBatch},
                       {"learning_rate", DLRT_F32, &lr, 1},
                       {"step", DLRT_F32, &step_f, 1}};
    dlrt_output out = {"loss", DLRT_F32, &loss, 1};
    ASSERT_EQ(dlrt_run(m_, "train_step", in, 4, &out, 1), DLRT_OK) << dlrt_last_error();

    std::map<std::string, HostTensor> feeds, results;
    feeds["x"] = HostTensor::copy_of(TensorType{DType::f32, {kBatch, 784}}, x_.data());
    feeds["label"] = HostTensor::copy_of(TensorType{DType::i32, {kBatch}}, labels_.data());
    feeds["learning_rate"] = HostTensor::copy_of(TensorType{DType::f32, {}}, &lr);
    feeds["step"] = HostTensor::copy_of(TensorType{DType::f32, {}}, &step_f);
    copies->run("train_step", std::move(feeds), &results);
    EXPECT_TRUE(same_bits(&loss, results.at("loss").as<float>(), 1)) << "step " << step;
  }
  for (const char* name : {"W1", "b1", "W3", "W1.m", "b3.v"}) {
    dlrt_tensor_info info;
    ASSERT_EQ(dlrt_find_param(m_, name, &info), DLRT_OK) << dlrt_last_error();
    std::vector<float> got(static_cast<size_t>(info.numel));
    ASSERT_EQ(dlrt_get_param(m_, name, DLRT_F32, got.data(), info.numel), DLRT_OK) << dlrt_last_error();
    HostTensor want = copies->get_param(name);
    EXPECT_TRUE(same_bits(got.data(), want.as<float>(), got.size())) << name;
  }
}

TEST_F(BoundRun, ACallAllocatesNothing) {
  std::vector<float> probs(kBatch * 10);
  float lr = 1e-3f, step = 1, loss = 0;
  dlrt_input train_in[] = {{"x", DLRT_F32, x_.data(), kBatch * 784},
                           {"label", DLRT_I32, labels_.data(), kBatch},
                           {"learning_rate", DLRT_F32, &lr, 1},
                           {"step", DLRT_F32, &step, 1}};
  dlrt_output train_out = {"loss", DLRT_F32, &loss, 1};
  dlrt_input in = {"x", DLRT_F32, x_.data(), kBatch * 784};
  dlrt_output out = {"probs", DLRT_F32, probs.data(), kBatch * 10};
  // The first calls size the model's scratch.
  ASSERT_EQ(dlrt_run(m_, "train_step", train_in, 4, &train_out, 1), DLRT_OK) << dlrt_last_error();
  ASSERT_EQ(dlrt_run(m_, "predict", &in, 1, &out, 1), DLRT_OK) << dlrt_last_error();
  g_allocations = 0;
  g_counting = true;
  dlrt_status a = dlrt_run(m_, "train_step", train_in, 4, &train_out, 1);
  dlrt_status b = dlrt_run(m_, "predict", &in, 1, &out, 1);
  g_counting = false;
  EXPECT_EQ(a, DLRT_OK);
  EXPECT_EQ(b, DLRT_OK);
  EXPECT_EQ(g_allocations.load(), 0);
}

}  // namespace
}  // namespace dlc
