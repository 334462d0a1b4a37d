#include "compiler/codegen/cpu/object_emitter.h"

#include <llvm/ADT/SmallString.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Verifier.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>

#include <mutex>

#include "compiler/codegen/cpu/llvm_options.h"
#include "ir/error.h"
#include "kernel/cpu_features.h"

namespace dlc::cpu {

namespace {

// Code is generated for x86-64 only: the runtime loads it into this process.
constexpr const char* kTriple = "x86_64-unknown-linux-gnu";

void initialize_llvm_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    set_llvm_options();
  });
}

std::string host_features() {
  std::string out;
  for (const auto& f : llvm::sys::getHostCPUFeatures()) {
    if (!out.empty()) out += ",";
    out += (f.getValue() ? "+" : "-") + f.getKey().str();
  }
  return out;
}

}  // namespace

std::unique_ptr<llvm::TargetMachine> make_target_machine(const std::string& cpu) {
  initialize_llvm_once();
  std::string error;
  const llvm::Target* target = llvm::TargetRegistry::lookupTarget(kTriple, error);
  if (!target) throw Error("LLVM has no x86-64 target: " + error);
  std::string cpu_name = cpu;
  std::string features;
  if (cpu == "native") {
    cpu_name = llvm::sys::getHostCPUName().str();
    features = host_features();
  }
  // Checked before creating the machine, which would only warn on stderr.
  std::unique_ptr<llvm::MCSubtargetInfo> generic(target->createMCSubtargetInfo(kTriple, "", ""));
  if (!generic->isCPUStringValid(cpu_name))
    throw Error("unknown CPU '" + cpu + "' for --cpu: use an LLVM x86 CPU name (x86-64-v2, x86-64-v3, skylake-avx512, ...) or 'native'");
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      kTriple, cpu_name, features, options, llvm::Reloc::PIC_, std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!tm) throw Error("LLVM cannot generate code for CPU '" + cpu + "'");
  return tm;
}

TargetCpu target_cpu(const llvm::TargetMachine& tm) {
  TargetCpu out;
  out.name = tm.getTargetCPU().str();
  const llvm::MCSubtargetInfo* sti = tm.getMCSubtargetInfo();
  for (const std::string& f : checkable_cpu_features())
    if (sti->checkFeatures("+" + f)) out.features.push_back(f);
  return out;
}

void configure_module(llvm::Module& m, llvm::TargetMachine& tm) {
  m.setTargetTriple(kTriple);
  m.setDataLayout(tm.createDataLayout());
}

std::string emit_object(llvm::Module& m, llvm::TargetMachine& tm, const PipelineOptions& pipeline) {
  const auto options_in_force = lock_llvm_options();
  configure_module(m, tm);
  std::string problems;
  llvm::raw_string_ostream problem_stream(problems);
  if (llvm::verifyModule(m, &problem_stream))
    throw Error("internal error: generated LLVM module is invalid: " + problems);

  // The standard O3 pipeline (loop and SLP vectorizers, tuned by the target
  // machine's cost model) without the loop unroller: on these kernels it
  // doubles optimization and instruction-selection time, while the
  // vectorizer's own interleaving already gives the loops their ILP.
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = false;
  tuning.LoopVectorization = pipeline.vectorize_loops;
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(&tm, tuning);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  mpm.run(m, mam);

  llvm::SmallString<0> object;
  llvm::raw_svector_ostream out(object);
  llvm::legacy::PassManager codegen;
  if (tm.addPassesToEmitFile(codegen, out, nullptr, llvm::CodeGenFileType::ObjectFile))
    throw Error("internal error: LLVM cannot emit an object file for this target");
  codegen.run(m);
  return std::string(object.data(), object.size());
}

}  // namespace dlc::cpu
