// The cuda executor (runtime/cuda/). Two halves:
// - without a GPU (CudaWithoutGpu): creating an executor is a clear
//   dlc::Error naming the driver or device, never a crash; cuBLAS loads
//   and resolves its functions without a GPU; a stub driver's failure is
//   reported with the call and its CUDA error.
// - with a GPU (CudaExecutor*, skipped without one): executables compiled
//   in-process for target "cuda" agree with the ref and cpu targets (every
//   model's predictions, the MLP's training), repeat bitwise, keep their
//   state through get/set, refuse wrong inputs by name; hand-built kernel
//   programs (GEMMs in every layout, overlapping copies, dropout masks)
//   agree with the kernel-IR evaluator.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "compiler/codegen/cuda/cuda_codegen.h"
#include "reference/kernel_ir_eval.h"
#include "compiler/pipeline.h"
#include "frontend/model_loader.h"
#include "ir/builder.h"
#include "ir/error.h"
#include "ir/verifier.h"
#include "runtime/cpu_executor.h"
#include "runtime/cuda/cublas_library.h"
#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/cuda_executor.h"
#include "runtime/ref_executor.h"
#include "runtime/session.h"
#include "tests/cpu_test_util.h"
#include "tests/cuda_host_test_util.h"
#include "tests/kernel_test_util.h"
#include "tests/ops_test_util.h"
#include "tests/runtime_test_util.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

using test::add_buffer;
using test::at;

#define SKIP_WITHOUT_GPU()                                           \
  do {                                                               \
    if (!cuda::cuda_device_available()) GTEST_SKIP() << "no CUDA device"; \
  } while (0)

proto::Executable compile(const std::string& model_path, const std::string& target, int64_t batch, uint64_t seed = 3) {
  CompileOptions o;
  o.target = target;
  o.batch = batch;
  o.seed = seed;
  o.gpu_arch = "sm_90";
  return compile_model(load_model(model_path), o);
}

std::string model_path(const std::string& name) { return test::source_path("models/" + name); }

std::vector<std::string> every_model() {
  std::vector<std::string> paths;
  for (const auto& f : std::filesystem::directory_iterator(test::source_path("models")))
    if (f.path().extension() == ".pbtxt") paths.push_back(f.path().string());
  std::sort(paths.begin(), paths.end());
  return paths;
}

bool mentions_driver_or_device(const std::string& text) {
  return text.find("CUDA driver") != std::string::npos || text.find("CUDA device") != std::string::npos;
}

// --- without a GPU ------------------------------------------------------------

TEST(CudaWithoutGpu, CreatingAnExecutorIsAClearError) {
  if (cuda::cuda_device_available()) GTEST_SKIP() << "a GPU is present: the CudaExecutor tests run instead";
  proto::Executable exe = compile(model_path("mlp_mnist.pbtxt"), "cuda", 4);
  ASSERT_EQ(exe.target(), "cuda");
  ASSERT_FALSE(exe.code().empty());
  for (auto make : {+[](const proto::Executable& e) { return make_cuda_executor(e); },
                    +[](const proto::Executable& e) { return make_executor(e); }}) {
    try {
      make(exe);
      ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
      EXPECT_TRUE(mentions_driver_or_device(e.what())) << e.what();
      EXPECT_NE(std::string(e.what()).find("cuda target"), std::string::npos) << e.what();
    }
  }
  // Loading a saved executable goes the same way, through the session.
  try {
    Session s(exe, "mlp.dlc");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(mentions_driver_or_device(e.what())) << e.what();
  }
}

TEST(CudaWithoutGpu, AStubDriverIsReportedWithTheFailingCall) {
  // The toolkit's stub libcuda has every symbol, and every call fails: the
  // loader's symbol names (cuda.h's _v2 renames) all resolve, and the
  // failure names the call and the CUDA error instead of crashing.
  if (cuda::cuda_device_available()) GTEST_SKIP() << "a real driver is loaded";
  const std::string stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (!std::filesystem::exists(stub)) GTEST_SKIP() << stub << " is not installed";
  setenv("DLC_CUDA_DRIVER_LIBRARY", stub.c_str(), 1);
  try {
    cuda::driver();
    ADD_FAILURE() << "the stub driver started";
  } catch (const Error& e) {
    EXPECT_TRUE(test::contains_all(e.what(), {"cuda target", stub, "cuInit failed", "CUDA_ERROR_STUB_LIBRARY"})) << e.what();
  }
  EXPECT_FALSE(cuda::cuda_device_available());
  unsetenv("DLC_CUDA_DRIVER_LIBRARY");
  // Nothing was kept from the failed load: the default library is tried again.
  try {
    cuda::driver();
    ADD_FAILURE() << "a driver loaded, but no device was available";
  } catch (const Error& e) {
    EXPECT_TRUE(mentions_driver_or_device(e.what())) << e.what();
    EXPECT_EQ(std::string(e.what()).find(stub), std::string::npos) << e.what();
  }
}

TEST(CudaWithoutGpu, CublasLoadsWithoutAGpuAndABadPathIsNamed) {
  if (cuda::cuda_device_available()) GTEST_SKIP() << "with a GPU, executors have loaded cuBLAS already";
  setenv("DLC_CUBLAS_LIBRARY", "/nonexistent/libcublas.so.13", 1);
  try {
    cuda::cublas();
    ADD_FAILURE() << "loaded a library that does not exist";
  } catch (const Error& e) {
    EXPECT_TRUE(test::contains_all(e.what(), {"cuBLAS could not be loaded", "/nonexistent/libcublas.so.13",
                                              "DLC_CUBLAS_LIBRARY"}))
        << e.what();
  }
  unsetenv("DLC_CUBLAS_LIBRARY");
  try {
    const cuda::CublasApi& api = cuda::cublas();
    EXPECT_NE(api.cublasSgemm, nullptr);
    EXPECT_NE(api.cublasSgemmStridedBatched, nullptr);
    EXPECT_STREQ(api.cublasGetStatusName(CUBLAS_STATUS_NOT_INITIALIZED), "CUBLAS_STATUS_NOT_INITIALIZED");
  } catch (const Error& e) {
    if (std::string(e.what()).find("could not be loaded") == std::string::npos) throw;
    GTEST_SKIP() << "cuBLAS is not installed: " << e.what();
  }
}

TEST(CudaWithoutGpu, AnExecutableWithoutCodeIsRefusedBeforeTheDriverLoads) {
  auto exe = test::tiny_executable();
  exe.set_target("cuda");
  try {
    make_cuda_executor(exe);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no code"), std::string::npos) << e.what();
  }
}

TEST(CudaWithoutGpu, AMalformedProgramIsRefusedBeforeTheDriverLoads) {
  // A bad file is the same error on every machine, GPU or not.
  proto::Executable exe = compile(model_path("mlp_mnist.pbtxt"), "cuda", 4);
  ASSERT_GT(exe.programs_size(), 0);
  ASSERT_GT(exe.programs(0).steps_size(), 0);
  ASSERT_GT(exe.programs(0).steps(0).values_size(), 0);
  exe.mutable_programs(0)->mutable_steps(0)->mutable_values(0)->set_buffer(9999);
  try {
    make_cuda_executor(exe);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_FALSE(mentions_driver_or_device(e.what())) << e.what();
    EXPECT_NE(std::string(e.what()).find("9999"), std::string::npos) << e.what();
  }
}

// --- with a GPU: compiled models against ref and cpu ---------------------------

/// Random values for every input `entry` takes (data in [0, 1), labels in
/// [0, classes), a fixed learning rate and step).
std::map<std::string, HostTensor> random_inputs(const Session& s, const std::string& entry, uint64_t seed,
                                                double step = 1, int64_t classes = 10) {
  std::map<std::string, HostTensor> in;
  for (const auto& info : s.entry(entry).inputs) {
    double lo = 0, hi = 1;  // pixel-like data
    if (info.role == proto::LABEL && info.type.dtype != DType::f32) hi = static_cast<double>(classes);
    // Adam's update divides by sqrt(v), which magnifies float32 rounding of
    // tiny gradients in proportion to the rate: at 0.05 even the cpu target
    // is 1.3e-4 from the float64 reference after 4 steps. The model's own
    // rate keeps the comparison meaningful at 1e-4.
    if (info.role == proto::LEARNING_RATE) lo = hi = 1e-3;
    if (info.role == proto::STEP) lo = hi = step;
    Tensor t = test::random_tensor(info.type.dims, seed++, lo, hi, info.type.dtype);
    if (info.role == proto::LABEL && info.type.dtype != DType::f32)
      for (double& v : t.data) v = std::min(std::floor(v), static_cast<double>(classes - 1));
    in[info.name] = to_host(t);
  }
  return in;
}

/// Expects every tensor of `want` in `got`, equal within `tol` (relative, NaN never passes).
void expect_close(const std::map<std::string, HostTensor>& got, const std::map<std::string, HostTensor>& want,
                  double tol, const std::string& what) {
  for (const auto& [name, w] : want) {
    ASSERT_TRUE(got.count(name)) << what << ": missing " << name;
    test::Mismatch m = test::relative_error(to_tensor(got.at(name)), to_tensor(w));
    EXPECT_LE(m.error, tol) << what << ": " << name << " " << m.str();
  }
}

TEST(CudaExecutor, EveryModelPredictsLikeRefAndCpu) {
  SKIP_WITHOUT_GPU();
  for (const std::string& path : every_model()) {
    SCOPED_TRACE(path);
    for (int64_t batch : {1, 33}) {
      SCOPED_TRACE("batch " + std::to_string(batch));
      Session cuda(compile(path, "cuda", batch), "cuda.dlc"), cpu(compile(path, "cpu", batch), "cpu.dlc"),
          ref(compile(path, "ref", batch), "ref.dlc");
      auto in = random_inputs(ref, "predict", 11);
      std::map<std::string, HostTensor> out_cuda, out_cpu, out_ref;
      cuda.run("predict", in, &out_cuda);
      cpu.run("predict", in, &out_cpu);
      ref.run("predict", in, &out_ref);
      ASSERT_EQ(out_cuda.size(), out_ref.size());
      expect_close(out_cuda, out_ref, 1e-4, "cuda vs ref");
      expect_close(out_cuda, out_cpu, 1e-4, "cuda vs cpu");
    }
  }
}

/// `steps` train steps of `s` on fixed inputs; the losses, then the state.
struct Trained {
  std::vector<HostTensor> losses;
  std::map<std::string, HostTensor> state;
};

Trained train(Session& s, int steps) {
  Trained t;
  for (int i = 0; i < steps; ++i) {
    auto in = random_inputs(s, "train_step", 100 + 10 * i, /*step=*/i + 1);
    std::map<std::string, HostTensor> out;
    s.run("train_step", in, &out);
    t.losses.push_back(out.at(s.executable().loss()));
  }
  for (const auto& p : s.params()) t.state[p.name] = s.get_param(p.name);
  return t;
}

TEST(CudaExecutor, MlpTrainingFollowsRefAndCpu) {
  SKIP_WITHOUT_GPU();
  const std::string mlp = model_path("mlp_mnist.pbtxt");
  Session cuda(compile(mlp, "cuda", 16), "cuda.dlc"), cpu(compile(mlp, "cpu", 16), "cpu.dlc"),
      ref(compile(mlp, "ref", 16), "ref.dlc");
  const Trained before = train(ref, 0);
  Trained on_cuda = train(cuda, 4), on_cpu = train(cpu, 4), on_ref = train(ref, 4);
  for (size_t i = 0; i < on_ref.losses.size(); ++i) {
    SCOPED_TRACE("step " + std::to_string(i + 1));
    expect_close({{"loss", on_cuda.losses[i]}}, {{"loss", on_ref.losses[i]}}, 1e-4, "cuda vs ref");
    expect_close({{"loss", on_cuda.losses[i]}}, {{"loss", on_cpu.losses[i]}}, 1e-4, "cuda vs cpu");
  }
  expect_close(on_cuda.state, on_ref.state, 1e-4, "state, cuda vs ref");
  expect_close(on_cuda.state, on_cpu.state, 1e-4, "state, cuda vs cpu");
  int changed = 0;
  for (const auto& [name, value] : on_cuda.state) changed += value.bytes != before.state.at(name).bytes;
  EXPECT_GT(changed, 0) << "training changed nothing";
}

TEST(CudaExecutor, TwoRunsAreBitwiseIdentical) {
  SKIP_WITHOUT_GPU();
  proto::Executable exe = compile(model_path("mlp_mnist.pbtxt"), "cuda", 64);
  Session first(exe, "a.dlc"), second(exe, "b.dlc");
  Trained a = train(first, 3), b = train(second, 3);
  for (size_t i = 0; i < a.losses.size(); ++i) EXPECT_EQ(a.losses[i].bytes, b.losses[i].bytes) << "loss " << i;
  for (const auto& [name, value] : a.state) EXPECT_EQ(value.bytes, b.state.at(name).bytes) << name;
  std::map<std::string, HostTensor> p1, p2;
  auto in = random_inputs(first, "predict", 5);
  first.run("predict", in, &p1);
  second.run("predict", in, &p2);
  for (const auto& [name, value] : p1) EXPECT_EQ(value.bytes, p2.at(name).bytes) << name;
}

TEST(CudaExecutor, GraphReplaysMatchStepByStepRunsBitwise) {
  // From the second call on, a call is one replay of a CUDA graph; it must
  // compute what issuing the steps one by one computes, bit for bit, with
  // each call's step number (dropout masks) and inputs. Batch 64: the bias
  // gradients take a warp per item (cuda_abi::lanes_per_item).
  SKIP_WITHOUT_GPU();
  for (const char* model : {"mlp_mnist.pbtxt", "mlp_dropout.pbtxt"}) {
    SCOPED_TRACE(model);
    proto::Executable exe = compile(model_path(model), "cuda", 64);
    Session graphs(exe, "graphs.dlc");
    setenv("DLC_CUDA_GRAPHS", "0", 1);
    Session steps(exe, "steps.dlc");
    unsetenv("DLC_CUDA_GRAPHS");
    Trained a = train(graphs, 4), b = train(steps, 4);
    for (size_t i = 0; i < a.losses.size(); ++i) EXPECT_EQ(a.losses[i].bytes, b.losses[i].bytes) << "loss " << i;
    for (const auto& [name, value] : a.state) EXPECT_EQ(value.bytes, b.state.at(name).bytes) << name;
    EXPECT_NE(a.losses[1].bytes, a.losses[2].bytes) << "the replays saw the same inputs";
  }
}

TEST(CudaExecutor, WarpReductionsMatchTheReferenceKernelByKernel) {
  // At these batches the bias gradients and the loss take a warp per item
  // (cuda_abi::lanes_per_item). Compared kernel by kernel: after whole Adam
  // steps, a gradient element within rounding of 0 may take either sign and
  // move its weight by a whole learning rate (seen on an H200: W2 1.1e-3 off
  // the reference after 3 steps at batch 1024), which says nothing about the
  // reductions.
  SKIP_WITHOUT_GPU();
  for (int64_t batch : {64, 1024}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    Session s(compile(model_path("mlp_mnist.pbtxt"), "cuda", batch), "mlp.dlc");
    s.verify_fusion(1e-4);
    std::map<std::string, HostTensor> out;
    s.run("train_step", random_inputs(s, "train_step", 1), &out);
    ASSERT_EQ(s.fusion_reports().size(), 1u);
    EXPECT_NE(s.fusion_reports()[0].find("values match the reference"), std::string::npos) << s.fusion_reports()[0];
  }
}

TEST(CudaExecutor, StateRoundTripsAndSetStateIsUsedByTheNextRun) {
  SKIP_WITHOUT_GPU();
  const std::string mlp = model_path("mlp_mnist.pbtxt");
  auto cuda = make_cuda_executor(compile(mlp, "cuda", 8, /*seed=*/3));
  Session ref(compile(mlp, "ref", 8, /*seed=*/4), "ref.dlc");  // other initial weights
  for (const char* name : {"W1", "W2", "W3"}) {
    HostTensor w = ref.get_param(name);
    ASSERT_NE(cuda->get_state(name).bytes, w.bytes) << name << ": the seeds gave the same weights";
    cuda->set_state(name, w);
    EXPECT_EQ(cuda->get_state(name).bytes, w.bytes) << name;
  }
  // With every parameter from the ref session, predictions agree with it.
  for (const auto& p : ref.params()) cuda->set_state(p.name, ref.get_param(p.name));
  auto in = random_inputs(ref, "predict", 9);
  std::map<std::string, HostTensor> got, want;
  cuda->run("predict", in, &got);
  ref.run("predict", in, &want);
  expect_close(got, want, 1e-4, "after set_state");
  // Wrong names and types are refused like on cpu.
  EXPECT_THROW(cuda->get_state("nope"), Error);
  try {
    cuda->set_state("W1", to_host(Tensor::scalar(1)));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(test::contains_all(e.what(), {"'W1'", "cannot set it"})) << e.what();
  }
}

TEST(CudaExecutor, AWrongInputIsRejectedWithItsName) {
  SKIP_WITHOUT_GPU();
  proto::Executable exe = compile(model_path("mlp_mnist.pbtxt"), "cuda", 8);
  auto cuda = make_cuda_executor(exe);
  Session s(exe, "mlp.dlc");
  auto in = random_inputs(s, "predict", 1);
  ASSERT_EQ(in.size(), 1u);
  const std::string name = in.begin()->first;
  TensorType wrong = in.begin()->second.type;
  wrong.dims.back() += 1;
  in[name] = HostTensor(wrong);
  std::map<std::string, HostTensor> out;
  try {
    cuda->run("predict", in, &out);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(test::contains_all(e.what(), {"'" + name + "'", wrong.str(), "expected"})) << e.what();
  }
  try {
    cuda->run("predict", {}, &out);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(test::contains_all(e.what(), {"needs input", "'" + name + "'"})) << e.what();
  }
  EXPECT_THROW(cuda->run("eval", {}, &out), Error);
}

TEST(CudaExecutor, VerifyFusionComparesEveryKernelWithTheReference) {
  SKIP_WITHOUT_GPU();
  Session s(compile(model_path("mlp_mnist.pbtxt"), "cuda", 16), "mlp.dlc");
  s.verify_fusion(1e-4);
  std::map<std::string, HostTensor> out;
  s.run("train_step", random_inputs(s, "train_step", 1), &out);
  s.run("predict", random_inputs(s, "predict", 2), &out);
  ASSERT_EQ(s.fusion_reports().size(), 2u);
  for (const auto& report : s.fusion_reports())
    EXPECT_NE(report.find("values match the reference"), std::string::npos) << report;
}

TEST(CudaExecutor, CodeFromOtherProgramsIsRefused) {
  SKIP_WITHOUT_GPU();
  proto::Executable exe = compile(model_path("linear_regression.pbtxt"), "cuda", 4);
  proto::Executable other = compile(model_path("linear_regression.pbtxt"), "cuda", 5);
  exe.set_code(other.code());
  exe.set_ptx(other.ptx());
  try {
    make_cuda_executor(exe);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fingerprint"), std::string::npos) << e.what();
  }
}

TEST(CudaExecutor, PtxRunsWhenTheCubinIsNotForThisGpu) {
  SKIP_WITHOUT_GPU();
  const std::string path = model_path("softmax_regression.pbtxt");
  proto::Executable exe = compile(path, "cuda", 6);
  proto::Executable no_cubin = exe;
  no_cubin.set_code("not a cubin");
  Session a(exe, "a.dlc"), b(no_cubin, "b.dlc");
  auto in = random_inputs(a, "predict", 3);
  std::map<std::string, HostTensor> out_a, out_b;
  a.run("predict", in, &out_a);
  b.run("predict", in, &out_b);
  for (const auto& [name, value] : out_a) EXPECT_EQ(value.bytes, out_b.at(name).bytes) << name;
}

TEST(CudaExecutor, AnEmptyFurtherModuleIsRefusedWithoutADevice) {
  proto::Executable exe = compile(model_path("perceptron.pbtxt"), "cuda", 4);
  exe.add_more_modules();
  try {
    make_cuda_executor(exe);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("module 1 has no code"), std::string::npos) << e.what();
  }
}

TEST(CudaExecutor, SeveralModulesRunLikeOne) {
  SKIP_WITHOUT_GPU();
  proto::Executable exe = compile(model_path("mlp_mnist.pbtxt"), "cuda", 6);
  std::vector<Program> programs;
  for (const auto& kp : exe.programs()) programs.push_back(program_from_proto(kp));
  cuda::CudaCodegenOptions opts;
  opts.split_bytes = 1;  // every kernel in a module of its own
  cuda::CudaCode code = cuda::compile_programs(programs, opts);
  ASSERT_GE(code.more_modules.size(), 2u);
  proto::Executable split = exe;
  test::set_cuda_code(split, code);
  split = parse_executable(serialize_executable(split, "split.dlc"), "split.dlc");
  Session a(exe, "a.dlc"), b(split, "split.dlc");
  for (int i = 0; i < 2; ++i) {
    auto in = random_inputs(a, "train_step", 20 + i, /*step=*/i + 1);
    std::map<std::string, HostTensor> out_a, out_b;
    a.run("train_step", in, &out_a);
    b.run("train_step", in, &out_b);
    for (const auto& [name, value] : out_a) EXPECT_EQ(value.bytes, out_b.at(name).bytes) << name;
  }
  auto in = random_inputs(a, "predict", 7);
  std::map<std::string, HostTensor> out_a, out_b;
  a.run("predict", in, &out_a);
  b.run("predict", in, &out_b);
  for (const auto& [name, value] : out_a) EXPECT_EQ(value.bytes, out_b.at(name).bytes) << name;
}

// --- with a GPU: hand-built kernel programs against the evaluator --------------

/// `programs` as a cuda executable (test::make_executable's, recompiled).
proto::Executable cuda_executable(const std::vector<Program>& programs, const std::map<std::string, Tensor>& state) {
  proto::Executable exe = test::make_executable(programs, state);
  exe.set_target("cuda");
  exe.set_gpu_arch("sm_90");
  cuda::CudaCode code = cuda::compile_programs(programs);
  exe.set_code(code.cubin);
  exe.set_ptx(code.ptx);
  return exe;
}

/// Runs `p` on the cuda executor and the evaluator; expects outputs and
/// final state to agree within `tol`.
void expect_cuda_matches_evaluator(const Program& p, const std::map<std::string, Tensor>& inputs,
                                   const std::map<std::string, Tensor>& state, double tol = 1e-5) {
  auto cuda = make_cuda_executor(cuda_executable({p}, state));
  std::map<std::string, HostTensor> outs;
  cuda->run(p.entry, test::to_host_map(inputs), &outs);
  ProgramEvaluator eval(p);
  for (const auto& [name, t] : state) eval.set_state(name, t);
  for (const auto& [name, want] : eval.run(inputs)) {
    ASSERT_TRUE(outs.count(name)) << name;
    EXPECT_LE(test::relative_error(to_tensor(outs.at(name)), want).error, tol) << name << "\n" << print_program(p);
  }
  for (const Buffer& b : p.buffers) {
    if (b.kind != BufferKind::state) continue;
    EXPECT_LE(test::relative_error(to_tensor(cuda->get_state(b.name)), eval.state(b.name)).error, tol)
        << b.name << "\n" << print_program(p);
  }
}

Tensor rand(const std::vector<int64_t>& dims, uint64_t seed) { return test::random_tensor(dims, seed, -2, 2); }

// C = A op B, then relu(C + bias) in the epilogue; batched when batch > 1
// (B shared by every batch); k = 0 leaves C = 0 before the epilogue.
Program gemm_program(int64_t batch, int64_t m, int64_t n, int64_t k, bool ta, bool tb) {
  Program p;
  p.entry = "predict";
  auto dims = [&](int64_t r, int64_t c) {
    return batch > 1 ? std::vector<int64_t>{batch, r, c} : std::vector<int64_t>{r, c};
  };
  int a = add_buffer(p, BufferKind::input, "a", ta ? dims(k, m) : dims(m, k));
  int b = add_buffer(p, BufferKind::state, "b", tb ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n});
  int bias = add_buffer(p, BufferKind::state, "bias", {n});
  int c = add_buffer(p, BufferKind::output, "c", dims(m, n));
  GemmCall g;
  g.m = m, g.n = n, g.k = k, g.batch = batch;
  g.a = {a, 0, ta ? m : k, ta, m * k};
  g.b = {b, 0, tb ? k : n, tb, 0};
  g.c = {c, 0, n, false, m * n};
  g.epilogue.dims = {batch * m, n};
  g.epilogue.loads = {at(c, {n, 1}), at(bias, {0, 1})};
  g.epilogue.stores = {{at(c, {n, 1}), max(arg(0) + arg(1), 0.0)}};
  Step s;
  s.body = g;
  p.steps.push_back(s);
  return p;
}

TEST(CudaExecutorPrograms, GemmsInEveryLayoutMatchTheEvaluator) {
  SKIP_WITHOUT_GPU();
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (auto [batch, m, n, k] : std::vector<std::array<int64_t, 4>>{
               {1, 1, 1, 1}, {1, 1, 700, 300}, {1, 7, 33, 5}, {1, 300, 200, 64}, {3, 5, 9, 4}, {1, 3, 4, 0}}) {
        SCOPED_TRACE(std::to_string(batch) + "x" + std::to_string(m) + "x" + std::to_string(n) + "x" +
                     std::to_string(k) + (ta ? " A^T" : "") + (tb ? " B^T" : ""));
        Program p = gemm_program(batch, m, n, k, ta, tb);
        // cuBLAS sums the k products in float32, in its own order (the
        // evaluator in float64): the rounding grows with k. Seen on an H200:
        // 1.2e-5 at k = 300.
        const double tol = 1e-5 + static_cast<double>(k) * 6e-8;
        expect_cuda_matches_evaluator(p, {{"a", rand(p.buffers[0].dims, 11)}},
                                      {{"b", rand(p.buffers[1].dims, 12)}, {"bias", rand({n}, 13)}}, tol);
      }
}

TEST(CudaExecutorPrograms, OverlappingCopiesActLikeMemmove) {
  SKIP_WITHOUT_GPU();
  // w[2:10] = w[0:8] within one buffer (forward overlap), then w[0:7] =
  // w[3:10] (backward), and a copy out. The cpu executor copies with
  // memmove; the cuda one must agree (cuMemcpyDtoD alone is undefined here).
  Program p;
  p.entry = "train_step";
  int w = add_buffer(p, BufferKind::state, "w", {10});
  int out = add_buffer(p, BufferKind::output, "out", {10});
  const std::vector<CopyStep> copies = {{w, w, 0, 2, 8}, {w, w, 3, 0, 7}, {w, out, 0, 0, 10}};
  for (const CopyStep& cp : copies) {
    Step s;
    s.body = cp;
    p.steps.push_back(s);
  }
  Tensor w0 = rand({10}, 21);
  std::vector<float> want(w0.data.begin(), w0.data.end());
  for (size_t i = 0; i + 1 < copies.size(); ++i)
    std::memmove(want.data() + copies[i].dst_offset, want.data() + copies[i].src_offset, copies[i].numel * sizeof(float));
  proto::Executable exe = cuda_executable({p}, {{"w", w0}});
  auto cuda = make_cuda_executor(exe);
  std::map<std::string, HostTensor> outs;
  cuda->run("train_step", {}, &outs);
  EXPECT_EQ(outs.at("out").bytes, test::host_f32({10}, want).bytes);
  EXPECT_EQ(cuda->get_state("w").bytes, test::host_f32({10}, want).bytes);
}

TEST(CudaExecutorPrograms, DropoutMasksMatchTheEvaluator) {
  SKIP_WITHOUT_GPU();
  // The mask is drawn on the device from the kernel arguments seed and step
  // (0 and 0 here, as the evaluator's default context): no host round trip.
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {37, 13}});
  auto y = b.op("dropout", {b.op("exp", {x})}, {{"rate", attr_f(0.4)}}, "drop");
  auto rows = b.op("reduce_sum", {y}, {{"axes", attr_ints({1})}});
  b.output(y);
  b.output(rows);
  verify_or_throw(g);
  Program p = build_program(g, {"train_step", {y, rows}, {}, true});
  expect_cuda_matches_evaluator(p, {{"x", rand({37, 13}, 31)}}, {}, 1e-5);
}

}  // namespace
}  // namespace dlc
