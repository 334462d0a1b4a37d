// Stage `codegen`: the target code of the programs: LLVM IR compiled to a
// shared object (target cpu), or CUDA C compiled by NVRTC to a cubin and PTX
// (target cuda). Its dump is the LLVM IR or the CUDA C.
#include "compiler/codegen/cpu/cpu_codegen.h"
#ifdef DLC_WITH_CUDA
#include "compiler/codegen/cuda/cuda_codegen.h"
#endif
#include "compiler/stage.h"
#include "ir/error.h"

namespace dlc {
namespace {

class CodegenStage : public Stage {
 public:
  std::string name() const override { return "codegen"; }
  IrLevel level() const override { return IrLevel::code; }

  bool run(Compilation& c) override {
    const CompileOptions& o = c.opts;
    // The readable code is kept only when someone wants to see it.
    bool want_text = o.dump_after == "codegen" || o.dump_after == "all";
    if (o.target == "cpu") {
      cpu::choose_convolution_kernels(c.programs, o.cpu);
      cpu::CpuCodegenOptions cg;
      cg.cpu = o.cpu;
      cg.cpu_name = &c.cpu_name;
      cg.cpu_features = &c.cpu_features;
      cg.llvm_ir = o.llvm_ir ? o.llvm_ir : want_text ? &c.code_text : nullptr;
      c.code = cpu::compile_programs(c.programs, cg);
      if (o.llvm_ir && want_text) c.code_text = *o.llvm_ir;
    }
#ifdef DLC_WITH_CUDA
    if (o.target == "cuda") {
      cuda::CudaCodegenOptions cg;
      cg.gpu_arch = o.gpu_arch;
      // Always through a caller's string first: it shows the source NVRTC rejected.
      cg.source = o.cuda_source ? o.cuda_source : want_text ? &c.code_text : nullptr;
      cuda::CudaCode code = cuda::compile_programs(c.programs, cg);
      c.code = std::move(code.cubin);
      c.ptx = std::move(code.ptx);
      c.more_modules.clear();
      for (auto& m : code.more_modules) c.more_modules.emplace_back(std::move(m.cubin), std::move(m.ptx));
      if (o.cuda_source && want_text) c.code_text = *o.cuda_source;
    }
#endif
    return true;
  }

  void check(const Compilation& c) const override {
    if (c.code.empty()) throw Error("no code generated for target " + c.opts.target);
  }

  std::string dump(const Compilation& c) const override {
    if (!c.code_text.empty()) return c.code_text;
    return "code: " + std::to_string(c.code.size()) + " bytes for target " + c.opts.target + "\n";
  }

  uint64_t fingerprint(const Compilation& c) const override {
    uint64_t h = fnv1a(c.ptx, fnv1a(c.code));
    for (const auto& [cubin, ptx] : c.more_modules) h = fnv1a(ptx, fnv1a(cubin, h));
    return h;
  }
};

}  // namespace

std::unique_ptr<Stage> make_codegen_stage() { return std::make_unique<CodegenStage>(); }

}  // namespace dlc
