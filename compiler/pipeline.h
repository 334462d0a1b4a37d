// The compiler pipeline: the passes from a loaded model to an executable.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ir/dlc.pb.h"
#include "ir/graph.h"

namespace dlc {

struct Program;  // kernel/kernel_ir.h

struct CompileOptions {
  std::string target = "ref";  // ref | cpu | cuda
  int64_t batch = 1;           // binds the symbolic batch dimension
  uint64_t seed = 0;           // parameter initialization
  bool training = true;        // build train_step when the model has a training section
  /// train_step averages its gradients, loss and running statistics over the
  /// processes of a data-parallel run (the all_reduce_gradients pass).
  bool data_parallel = false;
  /// Convolutions as im2col + GEMM (and col2im) instead of the convolution
  /// library's calls (oneDNN on cpu): always so for target cuda, which has
  /// no such call; on cpu for comparisons (--conv-as-gemm).
  bool convolutions_as_gemm = false;
  std::string dump_after;      // stage name or "all": print the IR after it (stage_names())
  std::string stop_after;      // graph pass name: run_graph_passes stops after it
  /// Receives each dump: the stage's name and its IR as text. The default
  /// prints "// after STAGE" and the text to stderr.
  std::function<void(const std::string& stage, const std::string& text)> on_dump;
  /// Checks that every stage reporting "unchanged" left its IR's fingerprint
  /// as it was (costs a hash of the IR per stage); on in debug builds.
#ifdef NDEBUG
  bool verify_changes = false;
#else
  bool verify_changes = true;
#endif
  std::string cpu = "x86-64-v2";  // LLVM CPU name for target cpu, or "native" (this machine)
  std::string* llvm_ir = nullptr;  // receives the generated LLVM IR (--emit-llvm)
  std::string gpu_arch = "sm_90";  // GPU architecture for target cuda (the cubin's; PTX comes along)
  std::string* cuda_source = nullptr;  // receives the generated CUDA C (--emit-cuda)
  /// Receives the kernel programs of a native target (kernel counts, --explain-fusion).
  std::function<void(const std::vector<Program>& programs)> on_programs;
};

/// A graph pass the pipeline knows, with what it needs (for `dlc opt`).
struct GraphPassInfo {
  std::string name;
  std::string summary;
  bool needs_training = false;      // only meaningful for a model with a training section
  std::vector<std::string> after;   // passes that must have run before it
  std::vector<std::string> before;  // passes that must not have run before it
};

/// The graph passes in pipeline order.
const std::vector<GraphPassInfo>& graph_pass_infos();

/// Every stage's name in pipeline order: the graph passes, then fuse, lower,
/// plan_memory and codegen (those four for targets cpu and cuda only).
const std::vector<std::string>& stage_names();

/// Runs the graph passes on `m` in place: verify, bind batch, regularize,
/// autodiff, optimizer lowering, simplification; stops after
/// `opts.stop_after` when set. Throws dlc::Error naming the pass and node.
void run_graph_passes(Model& m, const CompileOptions& opts);

/// Runs the named graph passes in the given order (`dlc opt --passes`):
/// verify first, then bind_batch (to opts.batch) before the first pass that
/// needs a bound batch unless the list binds it itself. Every pass's
/// prerequisites are checked first (a clear error names the missing one).
/// Each stage is checked after it changed the model, its "unchanged" claims
/// verified, and dumps go to opts.on_dump as in compile_model.
void run_named_passes(Model& m, const std::vector<std::string>& passes, const CompileOptions& opts);

/// The whole compilation: graph passes, entry points, initial parameters,
/// and for targets cpu and cuda the stages fuse, lower, plan_memory and codegen.
proto::Executable compile_model(Model m, const CompileOptions& opts);

}  // namespace dlc
