// Deep graphs: a 20,000-node element-wise chain compiles and computes the
// reference interpreter's numbers.
//
// Before compiler/fusion_limits.h, fusion inlined the whole chain into one
// kernel: loop building, the scalar-expression walkers and ScalarNode's
// destructor recursed once per level (SIGSEGV at about 5,000 nodes) and
// compile cost grew quadratically. These tests check correctness, not time
// (bench/compile_scaling measures that); a crash fails them.
#include <gtest/gtest.h>

#include <cstdlib>

#include "compiler/codegen/cpu/cpu_codegen.h"
#include "compiler/fusion_limits.h"
#include "reference/kernel_ir_eval.h"
#include "compiler/lower_to_kernels.h"
#include "compiler/pipeline.h"
#include "cpu_test_util.h"
#include "frontend/layers.h"
#include "ir/scalar_walk.h"
#include "reference/ref_interpreter.h"
#include "test_util.h"
#ifdef DLC_WITH_CUDA
#include "compiler/codegen/cuda/cuda_codegen.h"
#endif

namespace dlc {
namespace {

constexpr int64_t kBatch = 4;

/// x * w, then `n` ops cycling tanh, * 0.9, + 0.1 (bounded values at any
/// length), mse loss against t; w feeds the chain, so autodiff emits a
/// backward chain as long.
Model chain_model(int n) {
  Model m;
  GraphBuilder b(m.graph);
  std::string x = data_input(b, "x", {8});
  std::string t = label_input(b, "t", DType::f32, {8});
  std::string w = b.param("w", {DType::f32, {8}}, init_uniform(0.5, 1.5));
  std::string c_mul = b.scalar(0.9), c_add = b.scalar(0.1);
  std::string h = b.mul(x, w);
  for (int i = 1; i <= n; ++i) {
    switch (i % 3) {
      case 1: h = tanh(b, h); break;
      case 2: h = b.mul(h, c_mul); break;
      default: h = b.add(h, c_add); break;
    }
  }
  b.output(h);
  set_training(m, mse(b, h, t, "loss"), sgd(0.01));
  return m;
}

/// The model after the graph passes (batch bound; with training, autodiff
/// and the optimizer), as compile_model sees it before lowering.
Model passed(int n, bool training) {
  Model m = chain_model(n);
  CompileOptions opts;
  opts.batch = kBatch;
  opts.training = training;
  run_graph_passes(m, opts);
  if (!training) m.training.Clear();
  return m;
}

std::map<std::string, Tensor> feeds_for(const Graph& g) {
  std::map<std::string, Tensor> feeds;
  uint64_t seed = 1;
  for (const auto& in : g.inputs) feeds[in.name] = test::random_tensor(in.type.dims, seed++, -1, 1, in.type.dtype);
  for (const auto& p : g.params) feeds[p.name] = test::random_tensor(p.type.dims, seed++, 0.5, 1.5, p.type.dtype);
  return feeds;
}

/// DLC_DEEP_GRAPH_NODES overrides the length (e.g. 20000 for the backends).
int chain_length(int fallback = 20000) {
  const char* env = std::getenv("DLC_DEEP_GRAPH_NODES");
  return env ? std::atoi(env) : fallback;
}

// LLVM and NVRTC take about 3 ms per chain node for training on the dev box
// (bench/RESULTS.md), so the backend tests default to a 3,000-node chain
// (still past the 256-deep kernel limit many times) to stay under a minute.
constexpr int kBackendChain = 3000;

TEST(DeepGraph, ScalarExpressionsHundredsOfThousandsDeepAreWalkedAndReleasedWithoutRecursion) {
  SExpr e = arg(0);
  for (int i = 0; i < 200000; ++i) e = i % 2 ? tanh(e) : e * 0.5 + e;  // shared operands: a DAG
  EXPECT_EQ(scalar_depth({e.get()}), 200000 + 100000 + 1);
  EXPECT_EQ(scalar_args({e.get()}), std::vector<int>{0});
  LoopKernel k;
  k.dims = {2};
  k.loads.push_back({0, 0, {1}, -1, std::nullopt});
  k.stores.push_back({{1, 0, {1}, -1, std::nullopt}, e});
  Program p;
  p.buffers = {{0, "x", BufferKind::input, DType::f32, {2}, 2}, {1, "y", BufferKind::output, DType::f32, {2}, 2}};
  p.steps.push_back({k, {}, {}});
  EXPECT_NO_THROW(check_program(p));
  Program back = program_from_proto(program_to_proto(p));  // writing and reading the node table
  EXPECT_EQ(scalar_depth({back.steps[0].loop()->stores[0].value.get()}), 200000 + 100000 + 1);
  e = SExpr();  // dropping a 300,000-deep chain must not overflow the stack
}

// Every entry of the 20k chain lowers to kernels within the fusion limits,
// and the lowered programs (run by the float64 kernel-IR evaluator) give the
// interpreter's numbers.
TEST(DeepGraph, TwentyThousandNodeChainLowersToBoundedKernelsThatMatchTheInterpreter) {
  for (bool training : {true, false}) {
    Model m = passed(chain_length(), training);
    std::map<std::string, Tensor> feeds = feeds_for(m.graph);
    for (const EntrySpec& spec : entry_specs(m)) {
      SCOPED_TRACE(spec.name);
      Program p = build_program(m.graph, spec);
      EXPECT_GT(p.kernel_count(), chain_length() / kMaxFusedDepth / 2) << "the chain must be split";
      for (const Step& s : p.steps) {
        const LoopKernel* k = s.loop() ? s.loop() : s.gemm() ? &s.gemm()->epilogue : nullptr;
        if (!k || k->stores.empty()) continue;
        std::vector<const ScalarNode*> roots;
        for (const auto& r : k->reductions) roots.push_back(r.body.get());
        for (const auto& st : k->stores) roots.push_back(st.value.get());
        EXPECT_LE(scalar_depth(roots), kMaxFusedDepth);
      }
      ProgramEvaluator eval(p);
      std::map<std::string, Tensor> inputs;
      for (const Buffer& b : p.buffers) {
        if (b.kind == BufferKind::state) eval.set_state(b.name, feeds.at(b.name));
        if (b.kind == BufferKind::input) inputs[b.name] = feeds.at(b.name);
      }
      std::map<std::string, Tensor> got = eval.run(inputs);
      std::vector<std::string> wanted = spec.outputs;
      for (const auto& [param, value] : spec.updates) wanted.push_back(value);
      EvalContext ctx;
      ctx.training = spec.training;
      auto want = RefInterpreter(m.graph).run(feeds, wanted, ctx);
      for (const auto& o : spec.outputs) {
        test::Mismatch e = test::relative_error(got.at(o), want.at(o));
        EXPECT_LE(e.error, 1e-9) << o << ": " << e.str();
      }
      for (const auto& [param, value] : spec.updates) {
        test::Mismatch e = test::relative_error(eval.state(param), want.at(value));
        EXPECT_LE(e.error, 1e-9) << param << ": " << e.str();
      }
    }
  }
}

// The chain through the real cpu backend (LLVM), run by the cpu executor
// against the interpreter, training and inference.
TEST(DeepGraph, ChainCompilesForCpuAndRunsAsTheInterpreter) {
  for (bool training : {true, false}) {
    Model m = passed(chain_length(kBackendChain), training);
    std::map<std::string, Tensor> feeds = feeds_for(m.graph);
    for (const EntrySpec& spec : entry_specs(m)) {
      SCOPED_TRACE(spec.name);
      // float32 kernels against the float64 interpreter over thousands of ops.
      test::expect_cpu_matches_reference(m.graph, spec, feeds, 1e-4);
    }
  }
}

// Kernels are optimized and emitted on a thread pool, each in its own LLVM
// module; the shared object must not depend on how many threads ran.
TEST(DeepGraph, CpuSharedObjectIsTheSameWithOneOrSeveralCodegenThreads) {
  Model m = passed(1000, true);
  std::vector<Program> programs;
  for (const EntrySpec& spec : entry_specs(m)) programs.push_back(build_program(m.graph, spec));
  cpu::CpuCodegenOptions one, several;
  one.threads = 1;
  several.threads = 3;
  std::string a = cpu::compile_programs(programs, one);
  std::string b = cpu::compile_programs(programs, several);
  EXPECT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "shared objects of " << a.size() << " and " << b.size() << " bytes differ";
}

#ifdef DLC_WITH_CUDA
TEST(DeepGraph, ChainCompilesThroughNvrtc) {
  for (bool training : {true, false}) {
    Model m = passed(chain_length(kBackendChain), training);
    std::vector<Program> programs;
    for (const EntrySpec& spec : entry_specs(m)) programs.push_back(build_program(m.graph, spec));
    cuda::CudaCode code = cuda::compile_programs(programs);
    EXPECT_FALSE(code.cubin.empty());
    EXPECT_FALSE(code.ptx.empty());
  }
}
#endif

}  // namespace
}  // namespace dlc
