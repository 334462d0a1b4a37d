// LLVM module → optimized relocatable ELF object for one x86-64 CPU.
#pragma once

#include <llvm/IR/Module.h>

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class TargetMachine;
}

namespace dlc::cpu {

/// The CPU the generated code is tuned for by default: any x86-64 from the
/// last decade (SSE4.2, POPCNT). "native" (this machine) made the MLP's
/// step 0-4% faster here (its time is in oneDNN's GEMMs, which pick the
/// host's instructions at run time anyway) and the window kernels of
/// LeNet-5 about 3x; every executable records the extensions its code uses
/// (cpu_features), and a machine that lacks one refuses it with the reason.
constexpr const char* kDefaultCpu = "x86-64-v2";

/// A target machine for `cpu` (an LLVM CPU name such as "x86-64-v3" or
/// "skylake-avx512", or "native"). Throws dlc::Error naming an unknown CPU.
std::unique_ptr<llvm::TargetMachine> make_target_machine(const std::string& cpu);

/// The CPU name `tm` generates code for, and which extensions of
/// kernel/cpu_features.h its code may use.
struct TargetCpu {
  std::string name;
  std::vector<std::string> features;
};
TargetCpu target_cpu(const llvm::TargetMachine& tm);

/// Sets `m`'s triple and data layout for `tm`; call before building code
/// whose vectorization depends on the layout.
void configure_module(llvm::Module& m, llvm::TargetMachine& tm);

/// Which optional transforms the O3 pipeline runs. Neither changes results:
/// without fast-math flags LLVM vectorizes only lane-wise-exact code.
struct PipelineOptions {
  /// The loop vectorizer. On a large kernel (a 256-deep element-wise chain)
  /// it copies the body into a vector loop beside the scalar remainder loop,
  /// which more than triples LLVM's time; cpu_codegen.cc turns it off above
  /// a size no shipped model's kernel comes near.
  bool vectorize_loops = true;
};

/// Runs the O3 pipeline on `m` (verified first; a broken module is an
/// internal error naming the problem), then returns the object bytes.
/// Thread-safe for distinct modules (each in its own LLVMContext) and
/// distinct target machines.
std::string emit_object(llvm::Module& m, llvm::TargetMachine& tm, const PipelineOptions& pipeline = {});

}  // namespace dlc::cpu
