// The compiler pipeline: the passes from a loaded model to an executable.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ir/dlc.pb.h"
#include "ir/graph.h"

namespace dlc {

struct Program;  // compiler/kernel_ir.h

struct CompileOptions {
  std::string target = "ref";  // ref | cpu | cuda
  int64_t batch = 1;           // binds the symbolic batch dimension
  uint64_t seed = 0;           // parameter initialization
  bool training = true;        // build train_step when the model has a training section
  std::string dump_after;      // pass name or "all": print the IR after it
  std::string stop_after;      // pass name: stop the pipeline after it
  std::function<void(const std::string& pass, const Model& m)> on_dump;  // default prints to stderr
  std::string cpu = "x86-64-v2";  // LLVM CPU name for target cpu, or "native"
  std::string* llvm_ir = nullptr;  // receives the generated LLVM IR (--emit-llvm)
  std::string gpu_arch = "sm_90";  // GPU architecture for target cuda (the cubin's; PTX comes along)
  std::string* cuda_source = nullptr;  // receives the generated CUDA C (--emit-cuda)
  /// Receives the kernel programs of a native target (kernel counts, --explain-fusion).
  std::function<void(const std::vector<Program>& programs)> on_programs;
};

/// Runs the graph passes on `m` in place: verify, bind batch, regularize,
/// autodiff, optimizer lowering, simplification; stops after
/// `opts.stop_after` when set. Throws dlc::Error naming the pass and node.
void run_graph_passes(Model& m, const CompileOptions& opts);

/// The whole compilation: graph passes, entry points, initial parameters,
/// and target code.
proto::Executable compile_model(Model m, const CompileOptions& opts);

}  // namespace dlc
