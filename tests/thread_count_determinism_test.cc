// The same program, seed and data give the same bits whatever the thread
// count (DLC_NUM_THREADS, --threads): the pool cuts a range the same way for
// any pool size, GEMMs and convolutions are cut by their shape alone, and whole training runs
// write identical checkpoints on 1, 2 and 3 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <sys/stat.h>

#include "kernel/cpu_features.h"
#include "runtime/cpu_executor.h"
#include "runtime/npy.h"
#include "runtime/thread_pool.h"
#include "tests/cpu_test_util.h"
#include "tests/kernel_test_util.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

using test::add_buffer;
using test::at;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// --- the pool ---------------------------------------------------------------------

/// The chunks `pool` hands to fn for parallel_for(n, parts), sorted.
std::vector<std::pair<int64_t, int64_t>> chunks_run(ThreadPool& pool, int64_t n, int parts) {
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> seen;
  pool.parallel_for(n, parts, [&](int64_t b, int64_t e) {
    std::lock_guard<std::mutex> lock(mu);
    seen.emplace_back(b, e);
  });
  std::sort(seen.begin(), seen.end());
  return seen;
}

TEST(ThreadCountDeterminism, PoolCutsTheSameChunksWhateverItsSize) {
  ThreadPool one(1), two(2), three(3);
  for (int parts : {1, 4, 5, 8}) {
    auto want = chunks_run(one, 1000, parts);
    EXPECT_EQ(want.size(), static_cast<size_t>(parts));
    EXPECT_EQ(chunks_run(two, 1000, parts), want) << parts << " parts";
    EXPECT_EQ(chunks_run(three, 1000, parts), want) << parts << " parts";
  }
}

// --- GEMMs ------------------------------------------------------------------------

/// C[m,n] = A[m,k] B[k,n], and with a bias+relu epilogue when `epilogue`.
Program gemm_program(int64_t m, int64_t n, int64_t k, bool epilogue) {
  Program p;
  p.entry = "predict";
  int a = add_buffer(p, BufferKind::input, "a", {m, k});
  int b = add_buffer(p, BufferKind::state, "b", {k, n});
  int bias = add_buffer(p, BufferKind::state, "bias", {n});
  int c = add_buffer(p, BufferKind::output, "c", {m, n});
  GemmCall gc;
  gc.m = m, gc.n = n, gc.k = k;
  gc.a = {a, 0, k, false, 0};
  gc.b = {b, 0, n, false, 0};
  gc.c = {c, 0, n, false, 0};
  if (epilogue) {
    gc.epilogue.dims = {m, n};
    gc.epilogue.loads = {at(c, {n, 1}), at(bias, {0, 1})};
    gc.epilogue.stores = {{at(c, {n, 1}), max(arg(0) + arg(1), 0.0)}};
  }
  Step s;
  s.body = gc;
  p.steps.push_back(std::move(s));
  return p;
}

// Long inner dims with few rows: enough multiply-adds to be cut, so a cut
// by thread count gave single-row blocks (OpenBLAS's sgemv, which sums in
// another order than its sgemm) on some thread counts and not on others.
TEST(ThreadCountDeterminism, GemmBitsDoNotDependOnTheThreadCount) {
  struct Shape {
    int64_t m, n, k;
  };
  // 9000 rows: a tall product, cut into 16 blocks of 562 or 563 rows.
  for (Shape s : {Shape{2, 2, 1 << 20}, Shape{3, 3, 1 << 18}, Shape{2, 40, 1 << 15}, Shape{300, 200, 64},
                  Shape{9000, 64, 40}})
    for (bool epilogue : {false, true}) {
      SCOPED_TRACE(std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k) +
                   (epilogue ? " with epilogue" : ""));
      Program p = gemm_program(s.m, s.n, s.k, epilogue);
      const Tensor b_value = test::random_tensor({s.k, s.n}, 2), bias_value = test::random_tensor({s.n}, 3);
      auto exe = test::make_executable({p}, {{"b", b_value}, {"bias", bias_value}});
      auto inputs = test::to_host_map({{"a", test::random_tensor({s.m, s.k}, 1)}});
      std::vector<uint8_t> first;
      for (int threads : {1, 2, 3, 4}) {
        std::map<std::string, HostTensor> outs;
        make_cpu_executor(exe, threads)->run("predict", inputs, &outs);
        if (threads == 1) first = outs.at("c").bytes;
        else EXPECT_TRUE(outs.at("c").bytes == first) << threads << " threads gave other bits than 1";
      }
      // Every block of the cut computed its own rows: C against a double-precision product.
      const auto* c = reinterpret_cast<const float*>(first.data());
      const auto& a = inputs.at("a");
      const HostTensor b = to_host(b_value), bias = to_host(bias_value);
      int64_t wrong = 0;
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j) {
          double want = 0;
          for (int64_t q = 0; q < s.k; ++q) want += a.get(i * s.k + q) * b.get(q * s.n + j);
          if (epilogue) want = std::max(want + bias.get(j), 0.0);
          if (std::abs(c[i * s.n + j] - want) > 1e-4 * (1 + std::abs(want)) * std::sqrt(double(s.k))) ++wrong;
        }
      EXPECT_EQ(wrong, 0) << "elements of C away from the double-precision product";
    }
}

// --- whole training runs ----------------------------------------------------------

const char* kFashion = "/usr/share/datasets/fashion-mnist";

bool have_fashion() {
  struct stat st;
  return stat((std::string(kFashion) + "/train-images-idx3-ubyte.gz").c_str(), &st) == 0;
}

/// Compiles `model` for cpu at `batch` (with `compile_flags`), runs `dlrun
/// train <args>` with DLC_NUM_THREADS 1, 2 and 3, and expects the same
/// checkpoint bytes.
void expect_same_checkpoint_on_1_2_3_threads(const std::string& model, int batch, const std::string& args,
                                             const std::string& compile_flags = "") {
  const std::string dir = test::temp_dir(), exe = dir + "/model.dlc";
  std::string out;
  int rc = test::run_command(test::tool_path("dlc") + " compile " + model + " --target cpu --batch " +
                                 std::to_string(batch) + " " + compile_flags + " -o " + exe,
                             &out);
  ASSERT_EQ(rc, 0) << out;
  std::string first;
  for (int threads : {1, 2, 3}) {
    const std::string ckpt = dir + "/t" + std::to_string(threads) + ".safetensors";
    rc = test::run_command("DLC_NUM_THREADS=" + std::to_string(threads) + " " + test::tool_path("dlrun") +
                               " train " + exe + " " + args + " --checkpoint " + ckpt,
                           &out);
    ASSERT_EQ(rc, 0) << out;
    std::string bytes = slurp(ckpt);
    ASSERT_GT(bytes.size(), 1000u) << ckpt;
    if (threads == 1) first = bytes;
    else EXPECT_TRUE(bytes == first) << threads << " threads trained other weights than 1 thread";
  }
}

// The MNIST-class MLP, 40 Adam updates of 128 on a slice of Fashion-MNIST.
TEST(ThreadCountDeterminism, MlpTrainsToTheSameCheckpointOnOneTwoAndThreeThreads) {
  if (!have_fashion()) GTEST_SKIP() << kFashion << " is not installed";
  expect_same_checkpoint_on_1_2_3_threads(
      test::source_path("models/mlp_mnist.pbtxt"), 128,
      std::string("--data ") + kFashion + " --epochs 1 --limit-train 5120 --limit-test 64 --seed 5");
}

// LeNet-5, 16 Adam updates of 64: its convolutions are oneDNN calls over
// blocks of images, and each weight gradient adds the blocks' partial sums
// (8 blocks for conv2 here) in block order whatever thread computed them.
TEST(ThreadCountDeterminism, LenetTrainsToTheSameCheckpointOnOneTwoAndThreeThreads) {
  if (!have_fashion()) GTEST_SKIP() << kFashion << " is not installed";
  expect_same_checkpoint_on_1_2_3_threads(
      test::source_path("models/lenet5.pbtxt"), 64,
      std::string("--data ") + kFashion + " --epochs 1 --limit-train 1024 --limit-test 64 --seed 5");
}

// LeNet-5 again, compiled for AVX-512 (or AVX2) where its small
// convolutions are generated kernels (compiler/codegen/cpu/
// convolution_emitter.h): over blocks of images, and the weight gradients
// over (filter, channel) pairs, each summing all the images itself.
TEST(ThreadCountDeterminism, LenetWithGeneratedConvolutionsTrainsToTheSameCheckpoint) {
  if (!have_fashion()) GTEST_SKIP() << kFashion << " is not installed";
  const char* cpu = missing_cpu_features({"avx512f"}).empty()       ? "x86-64-v4"
                    : missing_cpu_features({"avx2", "fma"}).empty() ? "x86-64-v3"
                                                                    : nullptr;
  if (!cpu) GTEST_SKIP() << "this machine has neither AVX-512 nor AVX2";
  expect_same_checkpoint_on_1_2_3_threads(
      test::source_path("models/lenet5.pbtxt"), 64,
      std::string("--data ") + kFashion + " --epochs 1 --limit-train 1024 --limit-test 64 --seed 5",
      std::string("--cpu ") + cpu);
}

// Linear regression over 2^20 features at batch 2: the forward GEMM is
// [2, 2^20] x [2^20, 1], long enough to be cut into blocks of C's rows.
TEST(ThreadCountDeterminism, WideRegressionTrainsToTheSameCheckpointOnOneTwoAndThreeThreads) {
  const int64_t features = 1 << 20, rows = 6;
  const std::string dir = test::temp_dir();
  std::string model = slurp(test::source_path("models/linear_regression.pbtxt"));
  model = std::regex_replace(model, std::regex(R"(dims: \[-1, 3\])"), "dims: [-1, " + std::to_string(features) + "]");
  model = std::regex_replace(model, std::regex(R"(dims: \[3, 1\])"), "dims: [" + std::to_string(features) + ", 1]");
  ASSERT_NE(model.find(std::to_string(features)), std::string::npos);
  std::ofstream(dir + "/wide.pbtxt") << model;

  HostTensor x(TensorType{DType::f32, {rows, features}});
  HostTensor y(TensorType{DType::f32, {rows}});
  Tensor noise = test::random_tensor({rows, features}, 7, 0, 1e-3);
  for (int64_t i = 0; i < rows * features; ++i) x.as<float>()[i] = static_cast<float>(noise[i]);
  for (int64_t r = 0; r < rows; ++r) y.as<float>()[r] = static_cast<float>(r % 3);
  write_npy(dir + "/x.npy", x);
  write_npy(dir + "/y.npy", y);
  const std::string data = "--train-x " + dir + "/x.npy --train-y " + dir + "/y.npy";
  expect_same_checkpoint_on_1_2_3_threads(dir + "/wide.pbtxt", 2,
                                          data + " --test-x " + dir + "/x.npy --test-y " + dir + "/y.npy --epochs 2");
}

}  // namespace
}  // namespace dlc
