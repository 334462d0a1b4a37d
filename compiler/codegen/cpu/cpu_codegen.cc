#include "compiler/codegen/cpu/cpu_codegen.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>

#include "compiler/codegen/cpu/loop_emitter.h"
#include "compiler/codegen/cpu/object_emitter.h"
#include "compiler/codegen/cpu/shared_object_linker.h"
#include "kernel/cpu_abi.h"

namespace dlc::cpu {
namespace {

std::string module_text(const llvm::Module& m) {
  std::string text;
  llvm::raw_string_ostream out(text);
  m.print(out, nullptr);
  return text;
}

}  // namespace

std::string compile_programs(const std::vector<Program>& programs, const CpuCodegenOptions& opts) {
  auto tm = make_target_machine(opts.cpu);
  llvm::LLVMContext ctx;
  llvm::Module m("dlc_kernels", ctx);
  configure_module(m, *tm);
  for (const Program& p : programs) {
    check_program(p);
    for (size_t i = 0; i < p.steps.size(); ++i) {
      const Step& s = p.steps[i];
      std::string name = cpu_abi::kernel_symbol(p.entry, i);
      if (auto* k = s.loop()) emit_loop_kernel(m, p, *k, name);
      if (auto* g = s.gemm(); g && g->has_epilogue()) emit_loop_kernel(m, p, g->epilogue, name);
    }
  }
  llvm::Type* i64 = llvm::Type::getInt64Ty(ctx);
  new llvm::GlobalVariable(m, i64, true, llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantInt::get(i64, program_fingerprint(programs)),
                           cpu_abi::kFingerprintSymbol);
  if (opts.llvm_ir) *opts.llvm_ir = module_text(m);
  std::string object = emit_object(m, *tm);
  if (opts.optimized_llvm_ir) *opts.optimized_llvm_ir = module_text(m);
  return link_shared_object(object);
}

}  // namespace dlc::cpu
