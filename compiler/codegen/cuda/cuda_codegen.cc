#include "compiler/codegen/cuda/cuda_codegen.h"

#include "compiler/codegen/cuda/cuda_source.h"
#include "compiler/codegen/cuda/nvrtc_compiler.h"

namespace dlc::cuda {

CudaCode compile_programs(const std::vector<Program>& programs, const CudaCodegenOptions& opts) {
  std::string source = emit_cuda_source(programs);
  if (opts.source) *opts.source = source;
  NvrtcOutput compiled = nvrtc_compile(source, "model.cu", opts.gpu_arch);
  return {std::move(compiled.cubin), std::move(compiled.ptx)};
}

}  // namespace dlc::cuda
