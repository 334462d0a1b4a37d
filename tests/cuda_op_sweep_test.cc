// Every registered op and every gradient rule through the CUDA code
// generator, against the float64 reference interpreter: the sweep of
// tests/op_sweep.h (sizes 1, 7 and 1023, broadcasting shape pairs, value
// ranges valid for each op), lowered to kernel programs as for the cpu, then
// emitted as CUDA C, compiled as host C++ (tests/cuda_host_test_util.h) and
// run step by step on the host: generated kernels, GEMMs summed in double
// as cuBLAS would, copies and reference calls. Every output and gradient is
// compared at the cpu sweep's tolerances.
//
// Host-compiling is the slow part, so each test compiles once: both modes'
// programs of one op and direction go into one source.
#include <gtest/gtest.h>

#include "compiler/codegen/cuda/cuda_source.h"
#include "compiler/passes/expand_composites.h"
#include "tests/cuda_host_test_util.h"
#include "tests/op_sweep.h"

namespace dlc {
namespace {

using namespace test::sweep;

void expect_cuda_sweep_matches(const std::string& op, Direction d) {
  std::vector<SweepGraph> graphs = sweep_graphs(op, d);
  if (graphs.empty()) return;
  std::vector<Program> programs;
  for (const SweepGraph& sg : graphs) {
    // cuda has no convolution library call: its convolutions are im2col + GEMM.
    Graph g = sg.graph;
    expand_composites(g, nullptr, /*convolutions_as_gemm=*/true);
    programs.push_back(build_program(g, sg.entry));
    // One source for both modes: the entry names the kernels, so they must differ.
    programs.back().entry += sg.entry.training ? "_training" : "_inference";
  }
  test::HostKernels kernels(cuda::emit_cuda_source(programs));
  for (size_t i = 0; i < graphs.size(); ++i) {
    const SweepGraph& sg = graphs[i];
    SCOPED_TRACE(sg.entry.training ? "training" : "inference");
    EvalContext ctx;  // seed 0, step 0: the reference interpreter's, so dropout masks coincide
    ctx.training = sg.entry.training;
    test::HostRun run = test::run_on_host(programs[i], kernels, sg.feeds, ctx);
    test::expect_results_match_reference(sg.graph, sg.entry, sg.feeds, programs[i], run.outputs, run.state, sg.tol);
  }
}

class CudaOpForward : public testing::TestWithParam<std::string> {};
class CudaOpGradient : public testing::TestWithParam<std::string> {};

TEST_P(CudaOpForward, MatchesTheReference) { expect_cuda_sweep_matches(GetParam(), Direction::forward); }
TEST_P(CudaOpGradient, MatchesTheReference) { expect_cuda_sweep_matches(GetParam(), Direction::gradient); }

INSTANTIATE_TEST_SUITE_P(EveryOp, CudaOpForward, testing::ValuesIn(registered_ops(Direction::forward)), param_name);
INSTANTIATE_TEST_SUITE_P(EveryGradient, CudaOpGradient, testing::ValuesIn(registered_ops(Direction::gradient)),
                         param_name);

}  // namespace
}  // namespace dlc
