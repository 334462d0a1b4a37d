// A pipeline stage: one named step of the whole compilation, at any level.
//
// The graph passes (compiler/pass.h) are stages over the model; fusion,
// lowering to kernels, memory planning and code generation (compiler/stages/)
// are stages over what the earlier ones produced. The pipeline
// (compiler/pipeline.cc) runs them in order and, for every stage, checks the
// IR it changed, can verify that a stage reporting "unchanged" really left
// its IR alone, and can print the IR after it (`dlc compile --dump-after`).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compiler/fusion.h"
#include "kernel/kernel_ir.h"
#include "compiler/pass.h"
#include "compiler/pipeline.h"
#include "ir/graph.h"

namespace dlc {

/// Everything the stages hand on to each other. The fusion plans point into
/// `model.graph`, so a Compilation is never copied or moved once planned.
struct Compilation {
  Compilation(Model& m, const CompileOptions& o) : model(m), opts(o) {}
  Compilation(const Compilation&) = delete;
  Compilation& operator=(const Compilation&) = delete;

  Model& model;
  const CompileOptions& opts;
  std::vector<EntrySpec> entries;  // the entry points to build, in order
  std::vector<FusionPlan> plans;   // fuse: one per entry
  std::vector<Program> programs;   // lower, plan_memory: one per entry
  /// codegen: the target code and its readable form (LLVM IR or CUDA C).
  std::string code, ptx, code_text;
  /// cpu: the CPU the code is for and the extensions it may use.
  std::string cpu_name;
  std::vector<std::string> cpu_features;
  /// cuda: the modules after the first (code, ptx), as (cubin, ptx).
  std::vector<std::pair<std::string, std::string>> more_modules;
};

/// The IR levels, for messages and for which checker runs.
enum class IrLevel { graph, fusion, kernel, code };

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string name() const = 0;
  virtual IrLevel level() const = 0;
  /// Runs the stage; true when it changed its IR. Throws dlc::Error.
  virtual bool run(Compilation& c) = 0;
  /// Checks the IR the stage produced (the graph verifier, check_program);
  /// throws dlc::Error with the first problem.
  virtual void check(const Compilation& c) const = 0;
  /// The IR after the stage as text (--dump-after).
  virtual std::string dump(const Compilation& c) const = 0;
  /// A hash of the IR the stage may change, to catch a stage that says it
  /// changed nothing but did.
  virtual uint64_t fingerprint(const Compilation& c) const = 0;
};

/// FNV-1a over `text`, continuing from `h`.
inline uint64_t fnv1a(const std::string& text, uint64_t h = 1469598103934665603ull) {
  for (unsigned char ch : text) h = (h ^ ch) * 1099511628211ull;
  return h;
}

/// A hash of the whole model: graph, training section, gradients, updates.
/// Leaves out the inferred types, which the verifier recomputes.
uint64_t model_fingerprint(const Model& m);

/// Runs one stage: the stage itself, its level's checker when it reports a
/// change (an invalid result is an internal error naming the stage), with
/// c.opts.verify_changes the check that a stage reporting no change left its
/// fingerprint alone, then the dump when c.opts.dump_after names it.
void run_stage(Stage& s, Compilation& c);

/// A graph pass as a stage: the verifier checks it, print_model dumps it.
std::unique_ptr<Stage> graph_stage(std::unique_ptr<Pass> pass);

// The stages after the graph passes, one file each in compiler/stages/.
std::unique_ptr<Stage> make_fuse_stage();         // fuse.cc: plan_fusion per entry
std::unique_ptr<Stage> make_lower_stage();        // lower.cc: lower_to_kernels per entry
std::unique_ptr<Stage> make_plan_memory_stage();  // plan_memory.cc: arena offsets
std::unique_ptr<Stage> make_codegen_stage();      // codegen.cc: LLVM or CUDA C

/// Text of the fusion plan: each live node's kind and what became of it,
/// then the stored values with their reasons.
std::string print_fusion_plan(const FusionPlan& plan);

}  // namespace dlc
