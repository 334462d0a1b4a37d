// Helpers for the backend suites: wrapping kernel programs into a cpu
// executable, the error measure, comparing a backend's results for a graph
// entry with the reference interpreter, and doing so on the cpu executor.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/codegen/cpu/cpu_codegen.h"
#include "compiler/codegen/cpu/object_emitter.h"
#include "compiler/lower_to_kernels.h"
#include "runtime/cpu_executor.h"
#include "runtime/ref_executor.h"
#include "reference/ref_interpreter.h"

namespace dlc::test {

/// An executable around `programs`: their state buffers become parameters
/// (initialized from `state`), their inputs and outputs the entry points';
/// the code is for `cpu` (an LLVM CPU name).
inline proto::Executable make_executable(const std::vector<Program>& programs,
                                         const std::map<std::string, Tensor>& state,
                                         const std::string& cpu = cpu::kDefaultCpu) {
  proto::Executable exe;
  exe.set_target("cpu");
  std::set<std::string> params;
  for (const Program& p : programs) {
    auto* ep = exe.add_entry_points();
    ep->set_name(p.entry);
    for (const Buffer& b : p.buffers) {
      if (b.kind == BufferKind::input) ep->add_inputs(b.name);
      if (b.kind == BufferKind::output) ep->add_outputs(b.name);
      if (b.kind != BufferKind::state || !params.insert(b.name).second) continue;
      TensorType t{b.dtype, b.dims};
      auto* param = exe.mutable_graph()->add_params();
      param->set_name(b.name);
      *param->mutable_type() = to_proto(t);
      auto* init = exe.add_initial_params();
      init->set_name(b.name);
      *init->mutable_type() = to_proto(t);
      HostTensor h(t);
      if (state.count(b.name)) h = to_host(state.at(b.name));
      init->set_data(std::string(h.bytes.begin(), h.bytes.end()));
    }
    *exe.add_programs() = program_to_proto(p);
  }
  cpu::CpuCodegenOptions opts;
  opts.cpu = cpu;
  exe.set_code(cpu::compile_programs(programs, opts));
  return exe;
}

inline std::map<std::string, HostTensor> to_host_map(const std::map<std::string, Tensor>& m) {
  std::map<std::string, HostTensor> out;
  for (const auto& [k, v] : m) out[k] = to_host(v);
  return out;
}

/// The worst element of a comparison of `got` against `want`.
struct Mismatch {
  double error = 0;  // |got - want| / max(1, |want|); infinite: see relative_error
  int64_t index = -1;
  double got = 0, want = 0;
  std::string str() const {
    std::ostringstream s;
    s.precision(9);
    s << "error " << error << " at element " << index << ": got " << got << ", want " << want;
    return s.str();
  }
};

/// Worst |got - want| / max(1, |want|) over the elements. Stricter than
/// test::worst_error: a NaN on either side is an infinite error (no NaN ever
/// passes, not even against a NaN), as is an infinity the other side does not
/// match exactly, or a difference in element count.
inline Mismatch relative_error(const Tensor& got, const Tensor& want) {
  Mismatch worst;
  if (got.numel() != want.numel()) {
    worst.error = INFINITY;
    return worst;
  }
  for (int64_t i = 0; i < got.numel(); ++i) {
    double g = got[i], w = want[i], e;
    if (std::isnan(g) || std::isnan(w)) e = INFINITY;
    else if (std::isinf(g) || std::isinf(w)) e = g == w ? 0.0 : INFINITY;
    else e = std::fabs(g - w) / std::max(1.0, std::fabs(w));
    if (e > worst.error || worst.index < 0) worst = {e, i, g, w};
  }
  return worst;
}

/// Runs entry `e` of `g` on the reference interpreter (EvalContext:
/// e.training, seed 0, step 0) and expects a backend's results to agree
/// within `tol` (relative_error): `outputs` by graph value, `state` (after
/// the run) by parameter for e.updates. `p`, the backend's program, is
/// printed with a mismatch.
inline void expect_results_match_reference(const Graph& g, const EntrySpec& e,
                                           const std::map<std::string, Tensor>& feeds, const Program& p,
                                           const std::map<std::string, Tensor>& outputs,
                                           const std::map<std::string, Tensor>& state, double tol) {
  EvalContext ctx;
  ctx.training = e.training;
  std::vector<std::string> wanted = e.outputs;
  for (const auto& [param, value] : e.updates) wanted.push_back(value);
  auto want = RefInterpreter(g).run(feeds, wanted, ctx);
  for (const auto& o : e.outputs) {
    ASSERT_TRUE(outputs.count(o)) << "missing output " << o;
    Mismatch m = relative_error(outputs.at(o), want.at(o));
    EXPECT_LE(m.error, tol) << "output " << o << " " << g.type_of(o).str() << ": " << m.str() << "\n"
                            << print_program(p);
  }
  for (const auto& [param, value] : e.updates) {
    ASSERT_TRUE(state.count(param)) << "missing state " << param;
    Mismatch m = relative_error(state.at(param), want.at(value));
    EXPECT_LE(m.error, tol) << "state " << param << " := " << value << ": " << m.str() << "\n" << print_program(p);
  }
}

/// Lowers entry `e` of `g` (build_program), runs it on the cpu executor and
/// expects its outputs and state updates to match the reference interpreter
/// (expect_results_match_reference). The executor runs with seed 0 and step 0 as
/// the interpreter does, so dropout masks coincide. The code is for `cpu`,
/// whose vector width decides which convolutions are generated kernels
/// (cpu::choose_convolution_kernels, as `dlc compile` does). Returns the
/// program that ran.
inline Program expect_cpu_matches_reference(const Graph& g, const EntrySpec& e, const std::map<std::string, Tensor>& feeds,
                                            double tol = 1e-5, int threads = 2,
                                            const std::string& cpu = cpu::kDefaultCpu) {
  std::vector<Program> programs = {build_program(g, e)};
  cpu::choose_convolution_kernels(programs, cpu);
  const Program& p = programs[0];
  std::map<std::string, Tensor> state, inputs;
  for (const Buffer& b : p.buffers) {
    if (b.kind == BufferKind::state) state[b.name] = feeds.at(b.name);
    if (b.kind == BufferKind::input) inputs[b.name] = feeds.at(b.name);
  }
  auto executor = make_cpu_executor(make_executable(programs, state, cpu), threads);
  std::map<std::string, HostTensor> outs;
  executor->run(p.entry, to_host_map(inputs), &outs);
  std::map<std::string, Tensor> got, after;
  for (const auto& [name, h] : outs) got[name] = to_tensor(h);
  for (const auto& [param, value] : e.updates) after[param] = to_tensor(executor->get_state(param));
  expect_results_match_reference(g, e, feeds, p, got, after, tol);
  return p;
}

}  // namespace dlc::test
