// The pipeline: one ordered list of named stages through every level.
//
//   graph passes (verify ... simplify) -> fuse -> lower -> plan_memory -> codegen
//
// After each stage that reports a change, the checker of its level runs
// (the graph verifier, check_program); with verify_changes a stage that
// reports no change is held to it by a fingerprint of its IR. Any stage can
// be dumped by name (--dump-after).
#include "compiler/pipeline.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <memory>

#include "kernel/kernel_ir.h"
#include "compiler/lower_to_kernels.h"
#include "compiler/passes/all_reduce_gradients.h"
#include "compiler/passes/autodiff.h"
#include "compiler/passes/bind_batch.h"
#include "compiler/passes/eliminate_common_subexpressions.h"
#include "compiler/passes/expand_composites.h"
#include "compiler/passes/fold_constants.h"
#include "compiler/passes/lower_optimizer.h"
#include "compiler/passes/regularize.h"
#include "compiler/passes/simplify.h"
#include "compiler/stage.h"
#include "compiler/validate_model.h"
#include "ir/error.h"
#include "ir/initializers.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "kernel/executable.h"

namespace dlc {
namespace {

/// "verify" as a pass, so --dump-after=verify and --after verify work. It
/// runs the whole model validation (validate_model.h), the same as `dlc
/// check`, so every error is reported here at once rather than one by one
/// from later passes. The verifier sorts the nodes topologically, so a model
/// written out of order comes out changed, and the pass says so.
class VerifyPass : public Pass {
 public:
  std::string name() const override { return "verify"; }
  bool run(Model& m) override {
    uint64_t before = model_fingerprint(m);
    validate_or_throw(m);
    return model_fingerprint(m) != before;
  }
};

std::unique_ptr<Pass> make_graph_pass(const std::string& name, const CompileOptions& opts) {
  if (name == "verify") return std::make_unique<VerifyPass>();
  if (name == "bind_batch") return std::make_unique<BindBatchPass>(opts.batch);
  // cuda has no convolution library step (yet): its convolutions are im2col + GEMM.
  if (name == "expand_composites")
    return std::make_unique<ExpandCompositesPass>(opts.training, opts.convolutions_as_gemm || opts.target == "cuda");
  if (name == "regularize") return std::make_unique<RegularizePass>();
  if (name == "autodiff") return std::make_unique<AutodiffPass>();
  if (name == "all_reduce_gradients") return std::make_unique<AllReduceGradientsPass>();
  if (name == "lower_optimizer") return std::make_unique<LowerOptimizerPass>();
  if (name == "fold_constants") return std::make_unique<FoldConstantsPass>();
  if (name == "cse") return std::make_unique<EliminateCommonSubexpressionsPass>();
  if (name == "simplify") return std::make_unique<SimplifyPass>();
  throw Error("internal error: no graph pass '" + name + "'");
}

const std::vector<std::string> kBackendStages = {"fuse", "lower", "plan_memory", "codegen"};

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

class GraphStage : public Stage {
 public:
  explicit GraphStage(std::unique_ptr<Pass> pass) : pass_(std::move(pass)) {}
  std::string name() const override { return pass_->name(); }
  IrLevel level() const override { return IrLevel::graph; }
  bool run(Compilation& c) override { return pass_->run(c.model); }
  void check(const Compilation& c) const override {
    std::vector<std::string> errors = verify_model(c.model);
    if (!errors.empty()) throw Error(errors[0]);
  }
  std::string dump(const Compilation& c) const override { return print_model(c.model); }
  uint64_t fingerprint(const Compilation& c) const override { return model_fingerprint(c.model); }

 private:
  std::unique_ptr<Pass> pass_;
};

/// The graph stages of a compilation, in order.
std::vector<std::unique_ptr<Stage>> graph_stages(const Model& m, const CompileOptions& opts) {
  bool training = m.has_training() && opts.training;
  std::vector<std::unique_ptr<Stage>> stages;
  for (const auto& info : graph_pass_infos()) {
    if (info.name == "all_reduce_gradients" && !opts.data_parallel) continue;
    if (training || !info.needs_training) stages.push_back(graph_stage(make_graph_pass(info.name, opts)));
  }
  return stages;
}

/// Throws unless `dump_after` names a stage this compilation runs.
void check_dump_after(const std::string& dump_after, const std::vector<std::unique_ptr<Stage>>& stages,
                      const Model& m, const CompileOptions& opts) {
  if (dump_after.empty() || dump_after == "all") return;
  for (const auto& s : stages)
    if (s->name() == dump_after) return;
  if (!contains(stage_names(), dump_after))
    throw Error("unknown stage '" + dump_after + "' for --dump-after (stages: " + join(stage_names()) + ", or all)");
  if (dump_after == "all_reduce_gradients" && !opts.data_parallel)
    throw Error("stage 'all_reduce_gradients' does not run: it runs only with --data-parallel");
  if (contains(kBackendStages, dump_after))
    throw Error("stage '" + dump_after + "' does not run for target " + opts.target + ": it runs for targets cpu and cuda");
  throw Error("stage '" + dump_after + "' does not run: it runs only when the model trains" +
              (m.has_training() ? " (--no-train was given)" : " (the model has no training section)"));
}

}  // namespace

void run_stage(Stage& s, Compilation& c) {
  const CompileOptions& opts = c.opts;
  uint64_t before = opts.verify_changes ? s.fingerprint(c) : 0;
  bool changed;
  try {
    changed = s.run(c);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + "\n(in stage '" + s.name() + "')");
  }
  // The IR is re-checked after every change, so a broken stage is caught where it broke.
  if (changed) {
    try {
      s.check(c);
    } catch (const Error& e) {
      throw Error("internal error: stage '" + s.name() + "' left invalid IR:\n" + e.what());
    }
  } else if (opts.verify_changes && s.fingerprint(c) != before) {
    throw Error("internal error: stage '" + s.name() +
                "' reported no change but changed the IR; it must return true when it changes anything");
  }
  if (opts.dump_after == s.name() || opts.dump_after == "all") {
    std::string text = s.dump(c);
    if (opts.on_dump) opts.on_dump(s.name(), text);
    else std::cerr << "// after " << s.name() << "\n" << text << "\n";
  }
}

namespace {

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

uint64_t model_fingerprint(const Model& m) {
  std::string bytes;
  proto::Model pm = model_to_proto(m);
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    pm.SerializeToCodedStream(&coded);
  }
  uint64_t h = fnv1a(bytes);
  for (const auto& [param, grad] : m.gradients) h = fnv1a(param + "\n" + grad + "\n", h);
  for (const auto& [state, value] : m.updates) h = fnv1a(state + "\n" + value + "\n", h);
  return h;
}

std::unique_ptr<Stage> graph_stage(std::unique_ptr<Pass> pass) { return std::make_unique<GraphStage>(std::move(pass)); }

const std::vector<GraphPassInfo>& graph_pass_infos() {
  static const std::vector<GraphPassInfo> infos = {
      {"verify", "check the model and infer every value's type", false, {}, {}},
      {"bind_batch", "replace the symbolic batch dimension by --batch", false, {}, {}},
      {"expand_composites", "rewrite softmax, the losses, batch_norm, argmax ... into primitive ops", false, {}, {}},
      {"regularize", "add the training section's weight penalties to the loss", true, {}, {"autodiff"}},
      {"autodiff", "append the gradient of the loss for every trainable parameter", true, {}, {}},
      {"all_reduce_gradients", "--data-parallel: average the gradients, the loss and running statistics over the processes",
       true, {"autodiff"}, {"lower_optimizer"}},
      {"lower_optimizer", "the optimizer's update as element-wise ops on state", true, {"autodiff"}, {}},
      {"fold_constants", "evaluate nodes whose inputs are all constants", false, {}, {}},
      {"cse", "merge nodes that compute the same thing", false, {}, {}},
      {"simplify", "algebraic identities and dead-code removal", false, {}, {}},
  };
  return infos;
}

const std::vector<std::string>& stage_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& info : graph_pass_infos()) n.push_back(info.name);
    n.insert(n.end(), kBackendStages.begin(), kBackendStages.end());
    return n;
  }();
  return names;
}

void run_graph_passes(Model& m, const CompileOptions& opts) {
  std::vector<std::string> graph_names;
  for (const auto& info : graph_pass_infos()) graph_names.push_back(info.name);
  if (!opts.stop_after.empty() && !contains(graph_names, opts.stop_after))
    throw Error("unknown pass '" + opts.stop_after + "' (passes: " + join(graph_names) + ")");
  std::vector<std::unique_ptr<Stage>> stages = graph_stages(m, opts);
  if (contains(graph_names, opts.dump_after)) check_dump_after(opts.dump_after, stages, m, opts);
  Compilation c(m, opts);
  for (auto& s : stages) {
    run_stage(*s, c);
    if (s->name() == opts.stop_after) return;
  }
}

void run_named_passes(Model& m, const std::vector<std::string>& passes, const CompileOptions& opts) {
  const auto& infos = graph_pass_infos();
  auto info_of = [&](const std::string& name) -> const GraphPassInfo* {
    for (const auto& i : infos)
      if (i.name == name) return &i;
    return nullptr;
  };
  std::vector<std::string> graph_names;
  for (const auto& i : infos) graph_names.push_back(i.name);
  // Check the whole list before running anything.
  for (size_t k = 0; k < passes.size(); ++k) {
    const std::string& p = passes[k];
    const GraphPassInfo* info = info_of(p);
    if (!info) {
      if (contains(kBackendStages, p))
        throw Error("'" + p + "' is not a graph pass; see it with dlc compile --dump-after " + p);
      throw Error("unknown pass '" + p + "' (passes: " + join(graph_names) + ")");
    }
    std::vector<std::string> earlier(passes.begin(), passes.begin() + static_cast<long>(k));
    if (info->needs_training && !m.has_training())
      throw Error("pass '" + p + "' needs a model with a training section; " + m.source + " has none");
    for (const auto& a : info->after)
      if (!contains(earlier, a))
        throw Error("pass '" + p + "' needs '" + a + "' to run before it (--passes " + a + "," + p + ")");
    for (const auto& b : info->before)
      if (contains(earlier, b)) throw Error("pass '" + p + "' must run before '" + b + "', not after it");
  }
  std::vector<std::string> plan{"verify"};
  bool bound = false;
  for (const auto& p : passes) {
    if (p == "bind_batch") bound = true;
    if (!bound && p != "verify") {
      plan.push_back("bind_batch");
      bound = true;
    }
    plan.push_back(p);
  }
  Compilation c(m, opts);
  for (const auto& p : plan) {
    auto stage = graph_stage(make_graph_pass(p, opts));
    run_stage(*stage, c);
  }
}

proto::Executable compile_model(Model m, const CompileOptions& opts) {
  m.graph.restart_fresh_names();
  if (opts.target != "ref" && opts.target != "cpu" && opts.target != "cuda")
    throw Error("unknown target '" + opts.target + "' (targets: cpu, cuda, ref)");
#ifndef DLC_WITH_CUDA
  if (opts.target == "cuda")
    throw Error("this build of dlc has no cuda target (built without the CUDA toolkit); use --target cpu or ref");
#endif
  bool native = opts.target == "cpu" || opts.target == "cuda";
  std::vector<std::unique_ptr<Stage>> stages = graph_stages(m, opts);
  size_t graph_count = stages.size();
  if (native) {
    stages.push_back(make_fuse_stage());
    stages.push_back(make_lower_stage());
    stages.push_back(make_plan_memory_stage());
    stages.push_back(make_codegen_stage());
  }
  check_dump_after(opts.dump_after, stages, m, opts);

  Compilation c(m, opts);
  for (size_t k = 0; k < graph_count; ++k) run_stage(*stages[k], c);

  bool training = m.has_training() && opts.training;
  Model for_entries = m;
  if (!training) for_entries.training.Clear();
  c.entries = entry_specs(for_entries);
  for (size_t k = graph_count; k < stages.size(); ++k) run_stage(*stages[k], c);

  proto::Executable exe;
  exe.set_format_version(kFormatVersion);
  exe.set_target(opts.target);
  exe.set_batch(opts.batch);
  exe.set_seed(opts.seed);
  exe.set_data_parallel(training && opts.data_parallel);
  *exe.mutable_graph() = graph_to_proto(m.graph);
  if (training) {
    exe.set_loss(m.training.loss());
    exe.set_default_learning_rate(default_learning_rate(m.training.optimizer()));
  }
  for (const auto& spec : c.entries) {
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

  if (native) {
    for (const auto& p : c.programs) *exe.add_programs() = program_to_proto(p);
    exe.set_code(std::move(c.code));
    if (opts.target == "cpu") {
      exe.set_cpu(c.cpu_name);
      for (const auto& f : c.cpu_features) exe.add_cpu_features(f);
    }
    if (opts.target == "cuda") {
      exe.set_gpu_arch(opts.gpu_arch);
      exe.set_ptx(std::move(c.ptx));
      for (auto& [cubin, ptx] : c.more_modules) {
        auto* m = exe.add_more_modules();
        m->set_code(std::move(cubin));
        m->set_ptx(std::move(ptx));
      }
    }
    if (opts.on_programs) opts.on_programs(c.programs);
  }
  return exe;
}

}  // namespace dlc
