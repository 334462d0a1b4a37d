// The CUDA code generator, checked without a GPU:
// - every model and every optimizer compiles through NVRTC to a cubin and
//   PTX holding every kernel the ABI (kernel/cuda_abi.h) expects;
// - host emulation (tests/cuda_host_test_util.h): the generated CUDA C,
//   compiled as host C++, is run kernel by kernel on the inputs the float64
//   evaluator had before that step, and every value the step stores must
//   match the evaluator's. (cuda_op_sweep_test runs whole programs of every
//   op against the reference interpreter.)
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>
#include <set>

#include "compiler/codegen/cuda/cuda_codegen.h"
#include "compiler/codegen/cuda/cuda_source.h"
#include "compiler/codegen/cuda/nvrtc_compiler.h"
#include "compiler/pipeline.h"
#include "frontend/model_loader.h"
#include "ir/builder.h"
#include "ir/error.h"
#include "ir/op_registry.h"
#include "ir/philox.h"
#include "ir/verifier.h"
#include "kernel/cuda_abi.h"
#include "kernel/executable.h"
#include "tests/cuda_host_test_util.h"
#include "tests/kernel_test_util.h"

namespace dlc {
namespace {

using test::add_buffer;
using test::at;

/// Every model in models/ (name without .pbtxt), so a new one is covered.
std::vector<std::string> shipped_models() {
  std::vector<std::string> names;
  for (const auto& f : std::filesystem::directory_iterator(test::source_path("models")))
    if (f.path().extension() == ".pbtxt") names.push_back(f.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

// --- building programs as the pipeline does ------------------------------------

struct Built {
  Model model;
  std::vector<Program> programs;
  std::set<std::string> model_params;  // before the optimizer added its state
};

/// `name` from models/, batch 32, with `optimizer` (default hyper-parameters) when given.
Built build(const std::string& name, const std::string& optimizer = "") {
  Built b;
  b.model = load_model(test::source_path("models/" + name + ".pbtxt"));
  if (!optimizer.empty()) {
    b.model.training.mutable_optimizer()->Clear();
    b.model.training.mutable_optimizer()->set_kind(optimizer);
  }
  for (const auto& p : b.model.graph.params) b.model_params.insert(p.name);
  CompileOptions opts;
  opts.batch = 32;
  run_graph_passes(b.model, opts);
  for (const auto& spec : entry_specs(b.model)) b.programs.push_back(build_program(b.model.graph, spec));
  return b;
}

/// Random feeds; optimizer state (second moments, accumulators) is made
/// non-negative as training keeps it, so square roots see no negative number.
std::map<std::string, Tensor> feeds_for(const Built& b, uint64_t seed) {
  auto feeds = test::random_feeds(b.model.graph, seed, 2);
  for (const auto& p : b.model.graph.params)
    if (!b.model_params.count(p.name))
      for (double& v : feeds.at(p.name).data) v = std::fabs(v);
  return feeds;
}

// --- NVRTC --------------------------------------------------------------------------

/// Every kernel symbol the cuda executor will look up in code of `programs`.
std::vector<std::string> expected_symbols(const std::vector<Program>& programs) {
  std::vector<std::string> symbols;
  for (const Program& p : programs)
    for (size_t i = 0; i < p.steps.size(); ++i) {
      if (!cuda_abi::has_kernel(p.steps[i])) continue;
      std::string s = cuda_abi::kernel_symbol(p.entry, i);
      symbols.push_back(s);
    }
  return symbols;
}

void expect_complete_code(const cuda::CudaCode& code, const std::vector<Program>& programs) {
  ASSERT_GE(code.cubin.size(), 4u);
  EXPECT_EQ(code.cubin.substr(0, 4), "\x7f" "ELF");
  std::vector<std::string> symbols = expected_symbols(programs);
  EXPECT_FALSE(symbols.empty());
  for (const auto& s : symbols) {
    EXPECT_NE(code.ptx.find(".entry " + s + "("), std::string::npos) << s;
    EXPECT_NE(code.cubin.find(s), std::string::npos) << s;
  }
  EXPECT_NE(code.ptx.find(cuda_abi::kFingerprintSymbol), std::string::npos);
  EXPECT_NE(code.cubin.find(cuda_abi::kFingerprintSymbol), std::string::npos);
}

TEST(CudaCodegen, EveryModelCompilesThroughNvrtcWithEveryKernel) {
  for (const std::string& name : shipped_models()) {
    SCOPED_TRACE(name);
    Built b = build(name);
    ASSERT_EQ(b.programs.size(), 2u);
    std::string source = cuda::emit_cuda_source(b.programs);
    cuda::NvrtcOutput out = cuda::nvrtc_compile(source, "model.cu", "sm_90");
    expect_complete_code({out.cubin, out.ptx, {}}, b.programs);
    EXPECT_EQ(out.log, "") << "NVRTC warnings";
    EXPECT_NE(source.find("const unsigned long long dlc_programs_fingerprint = " +
                          std::to_string(program_fingerprint(b.programs)) + "ULL;"),
              std::string::npos);
    // Each kernel is introduced by a comment naming its step and nodes.
    for (size_t i = 0; i < b.programs[1].steps.size(); ++i) {
      if (cuda_abi::has_kernel(b.programs[1].steps[i])) {
        EXPECT_NE(source.find("// " + b.programs[1].entry + " step " + std::to_string(i) + " ("), std::string::npos);
      }
    }
  }
}

TEST(CudaCodegen, MlpTrainStepCompileTime) {
  Built b = build("mlp_mnist");
  std::vector<Program> train;
  for (const auto& p : b.programs)
    if (p.entry == "train_step") train.push_back(p);
  ASSERT_EQ(train.size(), 1u);
  auto start = std::chrono::steady_clock::now();
  cuda::CudaCode code = cuda::compile_programs(train);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::cout << "NVRTC, mlp_mnist train_step (batch 32, sm_90): " << ms << " ms, cubin " << code.cubin.size()
            << " bytes, PTX " << code.ptx.size() << " bytes\n";
  expect_complete_code(code, train);
}

TEST(CudaCodegen, EveryOptimizerCompilesThroughNvrtc) {
  for (const auto& opt : known_optimizers()) {
    SCOPED_TRACE(opt);
    Built b = build("softmax_regression", opt);
    expect_complete_code(cuda::compile_programs(b.programs), b.programs);
  }
}

TEST(CudaCodegen, OtherArchitecturesCompile) {
  Built b = build("logistic_regression");
  cuda::CudaCodegenOptions opts;
  opts.gpu_arch = "sm_80";
  cuda::CudaCode code = cuda::compile_programs(b.programs, opts);
  expect_complete_code(code, b.programs);
  EXPECT_NE(code.ptx.find(".target sm_80"), std::string::npos);
}

// --- several modules ---------------------------------------------------------------

/// The modules of `code` that hold `symbol`: its PTX entry and its name in the cubin.
std::vector<size_t> modules_with(const cuda::CudaCode& code, const std::string& symbol) {
  std::vector<std::pair<const std::string*, const std::string*>> modules = {{&code.cubin, &code.ptx}};
  for (const auto& m : code.more_modules) modules.push_back({&m.cubin, &m.ptx});
  std::vector<size_t> found;
  for (size_t i = 0; i < modules.size(); ++i) {
    bool in_ptx = modules[i].second->find(".entry " + symbol + "(") != std::string::npos;
    // NUL-terminated in the ELF string table: dlc_x_1 does not match dlc_x_11.
    bool in_cubin = modules[i].first->find(symbol + std::string(1, '\0')) != std::string::npos;
    EXPECT_EQ(in_ptx, in_cubin) << symbol << " in module " << i;
    if (in_ptx) found.push_back(i);
  }
  return found;
}

/// The bytes of the kernels' source (comments and kernels, without the prelude).
size_t kernel_source_bytes(const std::vector<Program>& programs) {
  std::string whole = cuda::emit_cuda_source(programs);
  size_t first = whole.find("\n// " + programs.front().entry + " step ");
  EXPECT_NE(first, std::string::npos);
  return whole.size() - first;
}

TEST(CudaCodegen, SmallModelsStayOneModule) {
  Built b = build("mlp_mnist");
  std::vector<std::string> units = cuda::emit_cuda_modules(b.programs);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0], cuda::emit_cuda_source(b.programs));
  cuda::CudaCode code = cuda::compile_programs(b.programs);
  EXPECT_TRUE(code.more_modules.empty());
  expect_complete_code(code, b.programs);
}

TEST(CudaCodegen, LargeSourceSplitsIntoModulesEachKernelInExactlyOne) {
  Built b = build("mlp_mnist", "adam");
  std::vector<std::string> symbols = expected_symbols(b.programs);
  ASSERT_GE(symbols.size(), 4u);
  // A threshold a quarter of the source: as a graph four times the size would split.
  cuda::CudaCodegenOptions opts;
  opts.split_bytes = kernel_source_bytes(b.programs) / 4;
  opts.threads = 3;
  std::string source;
  opts.source = &source;
  cuda::CudaCode code = cuda::compile_programs(b.programs, opts);
  ASSERT_GE(code.more_modules.size(), 2u);
  std::vector<std::string> units = cuda::emit_cuda_modules(b.programs, opts.split_bytes);
  ASSERT_EQ(units.size(), code.more_modules.size() + 1);
  std::string joined;
  for (const auto& u : units) joined += u;
  EXPECT_EQ(source, joined);  // --emit-cuda: the units one after another
  for (const auto& s : symbols) EXPECT_EQ(modules_with(code, s).size(), 1u) << s;
  // Every kernel is somewhere; the fingerprint only in the first module.
  EXPECT_NE(code.ptx.find(cuda_abi::kFingerprintSymbol), std::string::npos);
  for (const auto& m : code.more_modules) {
    EXPECT_EQ(m.cubin.substr(0, 4), "\x7f" "ELF");
    EXPECT_EQ(m.ptx.find(cuda_abi::kFingerprintSymbol), std::string::npos);
  }
  // The same code whatever the thread count.
  opts.threads = 1;
  opts.source = nullptr;
  cuda::CudaCode serial = cuda::compile_programs(b.programs, opts);
  EXPECT_EQ(serial.ptx, code.ptx);
  ASSERT_EQ(serial.more_modules.size(), code.more_modules.size());
  for (size_t i = 0; i < code.more_modules.size(); ++i) EXPECT_EQ(serial.more_modules[i].ptx, code.more_modules[i].ptx);
}

TEST(CudaCodegen, SeveralModulesRoundTripWithEveryModuleChecksummed) {
  CompileOptions copts;
  copts.target = "cuda";
  copts.batch = 32;
  proto::Executable exe = compile_model(load_model(test::source_path("models/mlp_mnist.pbtxt")), copts);
  EXPECT_EQ(exe.more_modules_size(), 0);
  std::vector<Program> programs;
  for (const auto& kp : exe.programs()) programs.push_back(program_from_proto(kp));
  cuda::CudaCodegenOptions opts;
  opts.split_bytes = kernel_source_bytes(programs) / 4;
  cuda::CudaCode code = cuda::compile_programs(programs, opts);
  ASSERT_GE(code.more_modules.size(), 2u);
  test::set_cuda_code(exe, code);
  std::string bytes = serialize_executable(exe, "split.dlc");
  proto::Executable back = parse_executable(bytes, "split.dlc");
  ASSERT_EQ(back.more_modules_size(), exe.more_modules_size());
  for (int i = 0; i < exe.more_modules_size(); ++i) {
    EXPECT_EQ(back.more_modules(i).code(), exe.more_modules(i).code());
    EXPECT_EQ(back.more_modules(i).ptx(), exe.more_modules(i).ptx());
  }
  EXPECT_EQ(back.code_checksum(), code_checksum(exe));
  // A flipped byte in the second module's cubin, then in the last module's PTX.
  for (const std::string* part : {&exe.more_modules(0).code(), &exe.more_modules(exe.more_modules_size() - 1).ptx()}) {
    size_t at = bytes.find(*part);
    ASSERT_NE(at, std::string::npos);
    ASSERT_EQ(bytes.rfind(*part), at);
    std::string bad = bytes;
    bad[at + part->size() / 2] ^= 0x10;
    try {
      parse_executable(bad, "split.dlc");
      FAIL() << "a corrupt module was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
    }
  }
}

TEST(CudaCodegen, CompileErrorsAndUnknownArchitecturesAreClearErrors) {
  try {
    cuda::nvrtc_compile("__global__ void k() { undeclared_thing(); }", "bad.cu", "sm_90");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("undeclared_thing"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.cu"), std::string::npos) << e.what();
  }
  for (const char* arch : {"sm_", "compute_90", "sm_9x0", "90"}) {
    try {
      cuda::nvrtc_compile("__global__ void k() {}", "ok.cu", arch);
      FAIL() << "expected an error for " << arch;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + arch + "'"), std::string::npos) << e.what();
    }
  }
  // Well formed but unknown to NVRTC: its own message comes through.
  EXPECT_THROW(cuda::nvrtc_compile("__global__ void k() {}", "ok.cu", "sm_1"), Error);
}

// --- host emulation -----------------------------------------------------------------

using test::expect_kernels_match_evaluator;
using test::generated_kernels;
using test::HostKernels;
using test::HostMemory;
using test::kSeed;
using test::kStep;

void expect_every_kernel_matches(const Built& b, uint64_t seed) {
  HostKernels kernels(cuda::emit_cuda_source(b.programs));
  auto feeds = feeds_for(b, seed);
  for (const Program& p : b.programs) {
    SCOPED_TRACE(p.entry);
    // The host GEMM sums in float32: LeNet-5's and cnn_bn's dense layers sum
    // 400 and 1568 products of unscaled random weights (4.8e-5 measured).
    EXPECT_EQ(expect_kernels_match_evaluator(p, kernels, feeds, 2e-4), generated_kernels(p));
    EXPECT_GT(generated_kernels(p), 0);
  }
}

TEST(CudaHostEmulation, EveryModelsKernelsMatchTheEvaluator) {
  for (const std::string& name : shipped_models()) {
    SCOPED_TRACE(name);
    expect_every_kernel_matches(build(name), 31);
  }
}

TEST(CudaHostEmulation, EveryOptimizersKernelsMatchTheEvaluator) {
  for (const auto& opt : known_optimizers()) {
    SCOPED_TRACE(opt);
    expect_every_kernel_matches(build("softmax_regression", opt), 41);
  }
}

// --- single kernels over hand-built programs ---------------------------------------

struct OpCase {
  std::string name;
  SExpr expr;
};

std::vector<OpCase> every_op() {
  SExpr x = arg(0), y = arg(1), z = arg(2);
  std::vector<OpCase> cases = {
      {"arg", y}, {"constant", SExpr(0.25)}, {"inf_constant", x + SExpr(-INFINITY)},
      {"float_overflowing_constant", min(x, SExpr(1e300))},
      {"add", x + y}, {"sub", x - y}, {"mul", x * y}, {"div", x / y}, {"neg", -x}, {"neg_constant", -SExpr(-2.5) * x},
      {"exp", exp(x)}, {"log", log(x)}, {"log1p", log1p(x)}, {"sqrt", sqrt(x)}, {"rsqrt", rsqrt(x)},
      {"abs", abs(x)}, {"sign", sign(x)}, {"tanh", tanh(x)}, {"trunc", trunc(x)}, {"max", max(x, y)},
      {"min", min(x, y)}, {"pow", pow(abs(x), y)}, {"greater", greater(x, y)}, {"less", less(x, y)},
      {"equal", equal(trunc(x * 2.0), trunc(y * 2.0))}, {"select", select(greater(x, z), x, y)},
      {"select_nan_condition", select(x, y, z)},
      {"sigmoid_dag", [&] {
         SExpr s = 1.0 / (1.0 + exp(-x));
         return s * (1.0 - s) + s;
       }()},
  };
  // Registry ops whose expressions combine select, exp and tanh in ways the
  // single-op cases above do not (the activations): each as the registry builds it.
  for (const char* op : {"leaky_relu", "elu", "gelu", "log_sigmoid", "softplus", "sigmoid"}) {
    Node n;
    n.op = op;
    const OpDef* def = find_op(op);
    if (def && def->expr) cases.push_back({std::string("op_") + op, def->expr({x}, n)});
  }
  Node elu;
  elu.op = "elu";
  elu.attrs["alpha"] = attr_f(0.5);
  cases.push_back({"op_elu_alpha", find_op("elu")->expr({x}, elu)});
  return cases;
}

/// Random values of both signs with NaN, infinities and zeros sprinkled in.
std::vector<float> special_inputs(uint64_t seed, int64_t n) {
  Tensor r = test::random_tensor({n}, seed, -3, 3);
  std::vector<float> v(r.data.begin(), r.data.end());
  const float specials[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1.0f};
  for (int k = 0; k < 6; ++k) v[(seed * 7 + k * 13) % n] = specials[k];
  return v;
}

bool matches(double want, double got, double tol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isnan(got)) return false;
  if (std::isinf(want) || std::isinf(got)) return got == want;
  return std::fabs(got - want) <= tol * std::max(1.0, std::fabs(want));
}

TEST(CudaHostEmulation, EveryScalarOpMatchesEvalScalarIncludingNaN) {
  // Float kernels (f32 output) and double kernels (f64 output), one kernel per op.
  const int64_t n = 511;
  std::vector<OpCase> cases = every_op();
  for (DType out_type : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(out_type));
    Program p;
    p.entry = "ops";
    int in[3];
    for (int k = 0; k < 3; ++k) in[k] = add_buffer(p, BufferKind::input, "x" + std::to_string(k), {n}, DType::f32);
    for (const OpCase& c : cases) {
      int out = add_buffer(p, BufferKind::output, c.name, {n}, out_type);
      LoopKernel k;
      k.dims = {n};
      for (int b : in) k.loads.push_back(at(b, {1}));
      k.stores = {{at(out, {1}), c.expr}};
      Step s;
      s.body = k;
      s.values = {{c.name, out}};
      p.steps.push_back(s);
    }
    check_program(p);
    HostKernels kernels(cuda::emit_cuda_source({p}));
    HostMemory mem(p);
    std::vector<float> x[3] = {special_inputs(1, n), special_inputs(2, n), special_inputs(3, n)};
    for (int k = 0; k < 3; ++k) mem.write(in[k], Tensor({DType::f32, {n}}, std::vector<double>(x[k].begin(), x[k].end())));
    for (size_t i = 0; i < cases.size(); ++i) {
      test::call_host_kernel(kernels.get(cuda_abi::kernel_symbol("ops", i)), mem.table(), n, kSeed, kStep);
      Tensor got = mem.read(p.steps[i].values[0].second);
      for (int64_t e = 0; e < n; ++e) {
        double operands[3] = {x[0][e], x[1][e], x[2][e]};
        double want = eval_scalar(cases[i].expr, operands);
        if (out_type == DType::f32) want = static_cast<float>(want);
        ASSERT_TRUE(matches(want, got[e], 1e-5)) << cases[i].name << " at " << e << ": operands " << operands[0]
                                                 << ", " << operands[1] << ", " << operands[2] << " want " << want
                                                 << " got " << got[e];
      }
    }
  }
}

TEST(CudaHostEmulation, IntegerAndBoolBuffersMatchTheEvaluator) {
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {4, 5}});
  auto mask = b.op("greater", {x, b.scalar(0)});
  auto as_int = b.cast(b.mul(x, b.scalar(10)), DType::i32);
  auto halves = b.div(as_int, b.fill(3, {DType::i32, {}}));  // integer division truncates
  auto wide = b.cast(b.mul(as_int, b.fill(100000, {DType::i32, {}})), DType::i64);
  auto picked = b.op("where", {mask, x, b.neg(x)});
  auto twice = b.mul(b.cast(halves, DType::f32), b.scalar(0.5));
  EntrySpec e{"predict", {mask, halves, wide, picked, twice}, {}, false};
  Program p = build_program(g, e);
  std::set<DType> stored;
  for (const auto& s : p.steps)
    for (const auto& [v, buf] : s.values) stored.insert(p.buffers[buf].dtype);
  EXPECT_TRUE(stored.count(DType::boolean) && stored.count(DType::i32) && stored.count(DType::i64)) << print_program(p);
  HostKernels kernels(cuda::emit_cuda_source({p}));
  for (uint64_t seed : {15, 16, 17})
    EXPECT_EQ(expect_kernels_match_evaluator(p, kernels, test::random_feeds(g, seed)), generated_kernels(p));
}

TEST(CudaHostEmulation, StoresSaturateAndEmptyReductionsStoreTheirInitialValue) {
  Program p;
  p.entry = "edge";
  const std::vector<double> values = {1e10, -1e10, NAN, 2.7, -2.7, 0.0, -0.0, 1e30, -1e30, 0.5};
  const int64_t n = static_cast<int64_t>(values.size());
  int x = add_buffer(p, BufferKind::input, "x", {n}, DType::f32);
  int i32 = add_buffer(p, BufferKind::output, "i32", {n}, DType::i32);
  int i64 = add_buffer(p, BufferKind::output, "i64", {n}, DType::i64);
  int flag = add_buffer(p, BufferKind::output, "flag", {n}, DType::boolean);
  int empty = add_buffer(p, BufferKind::input, "empty", {3, 0}, DType::f32);
  int sums = add_buffer(p, BufferKind::output, "sums", {3}, DType::f32);
  int maxes = add_buffer(p, BufferKind::output, "maxes", {3}, DType::f32);
  LoopKernel convert;
  convert.dims = {n};
  convert.loads = {at(x, {1})};
  convert.stores = {{at(i32, {1}), arg(0)}, {at(i64, {1}), arg(0)}, {at(flag, {1}), arg(0)}};
  p.steps.resize(3);
  p.steps[0].body = convert;
  for (int which = 0; which < 2; ++which) {
    LoopKernel r;
    r.dims = {3, 0};
    r.reduce_dims = 1;
    r.reductions = {{which == 0 ? ReduceOp::sum : ReduceOp::max, arg(0) * 2.0}};
    r.loads = {at(empty, {0, 1})};
    r.stores = {{at(which == 0 ? sums : maxes, {1, 0}), arg(1)}};
    p.steps[1 + which].body = r;
  }
  check_program(p);
  HostKernels kernels(cuda::emit_cuda_source({p}));
  HostMemory mem(p);
  mem.write(x, Tensor({DType::f32, {n}}, values));
  for (size_t s = 0; s < p.steps.size(); ++s)
    test::call_host_kernel(kernels.get(cuda_abi::kernel_symbol("edge", s)), mem.table(), cuda_abi::step_items(p.steps[s]), kSeed, kStep);
  // Saturating float -> int (llvm.fptosi.sat): truncation, the type's bounds, NaN -> 0.
  auto sat = [](double v, double lo, double hi) { return std::isnan(v) ? 0.0 : std::clamp(std::trunc(v), lo, hi); };
  Tensor got32 = mem.read(i32), got64 = mem.read(i64), gotb = mem.read(flag);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(got32[i], sat(static_cast<float>(values[i]), INT32_MIN, INT32_MAX)) << values[i];
    EXPECT_EQ(got64[i], sat(static_cast<float>(values[i]), static_cast<double>(INT64_MIN), static_cast<double>(INT64_MAX)))
        << values[i];
    EXPECT_EQ(gotb[i], values[i] != 0 ? 1.0 : 0.0) << values[i];  // NaN != 0
  }
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(mem.read(sums)[i], 0.0);
    EXPECT_EQ(mem.read(maxes)[i], -INFINITY);
  }
}

TEST(CudaHostEmulation, RowKernelsWithSeveralReductionsAndPerElementStores) {
  // Per row: max, sum(exp(x - max)) and the min of x - max, each reading the
  // ones before; row stores and per-element stores read the accumulators.
  const int64_t rows = 6, cols = 5;
  Program p = test::row_kernel_program("rows", rows, cols);
  int x = p.find_buffer(BufferKind::input, "x");
  int lse = p.find_buffer(BufferKind::output, "lse"), lo = p.find_buffer(BufferKind::output, "lo");
  check_program(p);
  HostKernels kernels(cuda::emit_cuda_source({p}));
  Tensor xs = test::random_tensor({rows, cols}, 5, -20, 20);
  EXPECT_EQ(expect_kernels_match_evaluator(p, kernels, {{"x", xs}}), 1);
  // Rows of 32 or more elements take a warp per row on the GPU
  // (lanes_per_item); on the host the same code runs with one lane.
  Program wide = test::row_kernel_program("rows", 3, 70);
  ASSERT_EQ(cuda_abi::lanes_per_item(*wide.steps[0].loop()), cuda_abi::kLanes);
  HostKernels wide_kernels(cuda::emit_cuda_source({wide}));
  EXPECT_EQ(expect_kernels_match_evaluator(wide, wide_kernels, {{"x", test::random_tensor({3, 70}, 6, -20, 20)}}), 1);
  xs[7] = std::numeric_limits<double>::quiet_NaN();  // row 1: NaN propagates through max and min
  HostMemory mem(p);
  mem.write(x, xs);
  test::call_host_kernel(kernels.get(cuda_abi::kernel_symbol("rows", 0)), mem.table(), rows, kSeed, kStep);
  EXPECT_TRUE(std::isnan(mem.read(lse)[1]) && std::isnan(mem.read(lo)[1]));
  EXPECT_TRUE(std::isfinite(mem.read(lse)[0]) && std::isfinite(mem.read(lse)[2]));
}

TEST(CudaHostEmulation, DropoutMasksAreTheReferenceMasksBitForBit) {
  // Odd sizes, so Philox blocks of four elements straddle rows; the mask
  // is read in order (y), transposed (yt) and inside a row sum (rows).
  const int64_t r = 37, c = 53;
  const float rate = 0.3f;
  test::DropoutViews views = test::dropout_views(r, c, rate);
  const Program& p = views.p;
  const std::string &y = views.y, &yt = views.yt;
  HostKernels kernels(cuda::emit_cuda_source({p}));
  Tensor xs = test::random_tensor({r, c}, 3, 0.5, 2);  // all kept values stay non-zero
  EXPECT_EQ(expect_kernels_match_evaluator(p, kernels, {{"x", xs}}), generated_kernels(p));
  for (uint64_t step : {uint64_t{1}, uint64_t{2}, uint64_t{1} << 40}) {
    HostMemory mem(p);
    mem.write(p.find_buffer(BufferKind::input, "x"), xs);
    for (size_t s = 0; s < p.steps.size(); ++s)
      if (cuda_abi::has_kernel(p.steps[s]))
        test::call_host_kernel(kernels.get(cuda_abi::kernel_symbol(p.entry, s)), mem.table(), cuda_abi::step_items(p.steps[s]), kSeed, step);
    Tensor got = mem.read(p.find_buffer(BufferKind::output, y));
    Tensor got_t = mem.read(p.find_buffer(BufferKind::output, yt));
    for (int64_t i = 0; i < r * c; ++i) {
      bool keep = dropout_keep(kSeed, fnv1a64("drop1"), step, static_cast<uint64_t>(i), rate);
      ASSERT_EQ(got[i] != 0.0, keep) << "element " << i << " step " << step;
      ASSERT_EQ(got_t[(i % c) * r + i / c], got[i]) << "element " << i << " step " << step;
    }
  }
}

// --- the tool ------------------------------------------------------------------------

TEST(CudaTool, CompileTargetCudaWritesCubinPtxAndSource) {
  std::string dir = test::temp_dir(), out = dir + "/mlp.dlc", emit = dir + "/cuda";
  std::string output;
  int status = test::run_command(test::tool_path("dlc") + " compile " + test::source_path("models/mlp_mnist.pbtxt") +
                                     " -o " + out + " --target cuda --batch 32 --gpu-arch sm_80 --emit-cuda " + emit,
                                 &output);
  ASSERT_EQ(status, 0) << output;
  EXPECT_NE(output.find("wrote " + emit + "/model.cu"), std::string::npos) << output;
  proto::Executable exe = load_executable(out);  // validates
  EXPECT_EQ(exe.target(), "cuda");
  EXPECT_EQ(exe.gpu_arch(), "sm_80");
  EXPECT_EQ(exe.code().substr(0, 4), "\x7f" "ELF");
  EXPECT_NE(exe.ptx().find(".target sm_80"), std::string::npos);
  std::vector<Program> programs;
  for (const auto& kp : exe.programs()) programs.push_back(program_from_proto(kp));
  ASSERT_EQ(programs.size(), 2u);
  std::ifstream in(emit + "/model.cu");
  std::string source((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& s : expected_symbols(programs)) {
    EXPECT_NE(exe.ptx().find(".entry " + s + "("), std::string::npos) << s;
    EXPECT_NE(source.find("extern \"C\" __global__ void " + s + "("), std::string::npos) << s;
  }
  EXPECT_NE(source.find(std::to_string(program_fingerprint(programs)) + "ULL"), std::string::npos);

  status = test::run_command(test::tool_path("dlc") + " compile " + test::source_path("models/perceptron.pbtxt") +
                                 " -o " + out + " --target tpu",
                             &output);
  EXPECT_NE(status, 0);
  EXPECT_NE(output.find("targets: cpu, cuda, ref"), std::string::npos) << output;
  status = test::run_command(test::tool_path("dlc") + " compile " + test::source_path("models/perceptron.pbtxt") +
                                 " -o " + out + " --target cuda --gpu-arch volta",
                             &output);
  EXPECT_NE(status, 0);
  EXPECT_NE(output.find("'volta'"), std::string::npos) << output;
  status = test::run_command(test::tool_path("dlc") + " compile " + test::source_path("models/perceptron.pbtxt") +
                                 " -o " + out + " --target cpu --emit-cuda " + emit,
                             &output);
  EXPECT_EQ(status, 2);
  EXPECT_NE(output.find("--emit-cuda needs --target cuda"), std::string::npos) << output;
  status = test::run_command(test::tool_path("dlc") + " compile --help", &output);
  EXPECT_NE(output.find("--emit-cuda DIR"), std::string::npos) << output;
  EXPECT_NE(output.find("--gpu-arch ARCH"), std::string::npos) << output;
}

}  // namespace
}  // namespace dlc
