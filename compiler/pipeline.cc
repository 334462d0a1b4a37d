#include "compiler/pipeline.h"

#include <cstring>
#include <iostream>
#include <memory>

#include "compiler/codegen/cpu/cpu_codegen.h"
#ifdef DLC_WITH_CUDA
#include "compiler/codegen/cuda/cuda_codegen.h"
#endif
#include "compiler/kernel_ir.h"
#include "compiler/lower_to_kernels.h"
#include "compiler/passes/autodiff.h"
#include "compiler/passes/bind_batch.h"
#include "compiler/passes/eliminate_common_subexpressions.h"
#include "compiler/passes/expand_composites.h"
#include "compiler/passes/fold_constants.h"
#include "compiler/passes/lower_optimizer.h"
#include "compiler/passes/regularize.h"
#include "compiler/passes/simplify.h"
#include "ir/error.h"
#include "ir/initializers.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "runtime/executable.h"

namespace dlc {
namespace {

/// "verify" as a pass, so --dump-after=verify and --after verify work.
class VerifyPass : public Pass {
 public:
  std::string name() const override { return "verify"; }
  bool run(Model& m) override {
    verify_or_throw(m);
    return false;
  }
};

std::vector<std::unique_ptr<Pass>> graph_passes(const Model& m, const CompileOptions& opts) {
  std::vector<std::unique_ptr<Pass>> passes;
  passes.push_back(std::make_unique<VerifyPass>());
  passes.push_back(std::make_unique<BindBatchPass>(opts.batch));
  passes.push_back(std::make_unique<ExpandCompositesPass>());
  if (m.has_training() && opts.training) {
    passes.push_back(std::make_unique<RegularizePass>());
    passes.push_back(std::make_unique<AutodiffPass>());
    passes.push_back(std::make_unique<LowerOptimizerPass>());
  }
  passes.push_back(std::make_unique<FoldConstantsPass>());
  passes.push_back(std::make_unique<EliminateCommonSubexpressionsPass>());
  passes.push_back(std::make_unique<SimplifyPass>());
  return passes;
}

const std::vector<std::string>& pass_names() {
  static const std::vector<std::string> names = {"verify", "bind_batch", "expand_composites", "regularize", "autodiff",
                                                 "lower_optimizer", "fold_constants", "cse", "simplify"};
  return names;
}

/// Parameter values as the executable stores them: little-endian elements.
proto::NamedTensor to_named_tensor(const std::string& name, const Tensor& t) {
  proto::NamedTensor nt;
  nt.set_name(name);
  *nt.mutable_type() = to_proto(t.type);
  std::string bytes(static_cast<size_t>(t.numel() * dtype_size(t.type.dtype)), '\0');
  for (int64_t i = 0; i < t.numel(); ++i) {
    char* p = bytes.data() + i * dtype_size(t.type.dtype);
    switch (t.type.dtype) {
      case DType::f32: { float v = static_cast<float>(t[i]); std::memcpy(p, &v, 4); break; }
      case DType::f64: { double v = t[i]; std::memcpy(p, &v, 8); break; }
      case DType::i32: { int32_t v = static_cast<int32_t>(t[i]); std::memcpy(p, &v, 4); break; }
      case DType::i64: { int64_t v = static_cast<int64_t>(t[i]); std::memcpy(p, &v, 8); break; }
      case DType::boolean: { *p = t[i] != 0 ? 1 : 0; break; }
    }
  }
  nt.set_data(std::move(bytes));
  return nt;
}

}  // namespace

void run_graph_passes(Model& m, const CompileOptions& opts) {
  if (!opts.stop_after.empty()) {
    bool known = false;
    for (const auto& n : pass_names()) known = known || n == opts.stop_after;
    if (!known) {
      std::string list;
      for (const auto& n : pass_names()) list += (list.empty() ? "" : ", ") + n;
      throw Error("unknown pass '" + opts.stop_after + "' (passes: " + list + ")");
    }
  }
  auto dump = [&](const std::string& pass) {
    if (opts.dump_after != pass && opts.dump_after != "all") return;
    if (opts.on_dump) opts.on_dump(pass, m);
    else std::cerr << "// after " << pass << "\n" << print_model(m) << "\n";
  };
  for (auto& pass : graph_passes(m, opts)) {
    bool changed;
    try {
      changed = pass->run(m);
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + "\n(in pass '" + pass->name() + "')");
    }
    // The pipeline re-verifies after every change, so a broken pass is caught where it broke.
    if (changed) {
      std::vector<std::string> errors = verify_model(m);
      if (!errors.empty()) throw Error("internal error: pass '" + pass->name() + "' left an invalid graph:\n" + errors[0]);
    }
    dump(pass->name());
    if (pass->name() == opts.stop_after) return;
  }
}

proto::Executable compile_model(Model m, const CompileOptions& opts) {
  if (opts.target != "ref" && opts.target != "cpu" && opts.target != "cuda")
    throw Error("unknown target '" + opts.target + "' (targets: cpu, cuda, ref)");
#ifndef DLC_WITH_CUDA
  if (opts.target == "cuda")
    throw Error("this build of dlc has no cuda target (built without the CUDA toolkit); use --target cpu or ref");
#endif
  run_graph_passes(m, opts);

  proto::Executable exe;
  exe.set_format_version(kFormatVersion);
  exe.set_target(opts.target);
  exe.set_batch(opts.batch);
  exe.set_seed(opts.seed);
  *exe.mutable_graph() = graph_to_proto(m.graph);
  bool training = m.has_training() && opts.training;
  if (training) {
    exe.set_loss(m.training.loss());
    exe.set_default_learning_rate(default_learning_rate(m.training.optimizer()));
  }
  Model for_entries = m;
  if (!training) for_entries.training.Clear();
  std::vector<EntrySpec> specs = entry_specs(for_entries);
  for (const auto& spec : specs) {
    auto* ep = exe.add_entry_points();
    ep->set_name(spec.name);
    for (const auto& in : m.graph.inputs) {
      bool wanted = spec.training || in.role == proto::DATA;
      if (wanted) ep->add_inputs(in.name);
    }
    for (const auto& o : spec.outputs) ep->add_outputs(o);
    for (const auto& [state, value] : spec.updates) {
      auto* u = ep->add_updates();
      u->set_param(state);
      u->set_value(value);
    }
  }
  for (const auto& p : m.graph.params)
    *exe.add_initial_params() = to_named_tensor(p.name, initialize_parameter(p, opts.seed));

  if (opts.target == "cpu" || opts.target == "cuda") {
    std::vector<Program> programs;
    for (const auto& spec : specs) programs.push_back(build_program(m.graph, spec));
    for (const auto& p : programs) *exe.add_programs() = program_to_proto(p);
    if (opts.target == "cpu") {
      cpu::CpuCodegenOptions cg;
      cg.cpu = opts.cpu;
      cg.llvm_ir = opts.llvm_ir;
      exe.set_code(cpu::compile_programs(programs, cg));
    }
#ifdef DLC_WITH_CUDA
    if (opts.target == "cuda") {
      cuda::CudaCodegenOptions cg;
      cg.gpu_arch = opts.gpu_arch;
      cg.source = opts.cuda_source;
      cuda::CudaCode code = cuda::compile_programs(programs, cg);
      exe.set_gpu_arch(opts.gpu_arch);
      exe.set_code(std::move(code.cubin));
      exe.set_ptx(std::move(code.ptx));
    }
#endif
    if (opts.on_programs) opts.on_programs(programs);
  }
  return exe;
}

}  // namespace dlc
