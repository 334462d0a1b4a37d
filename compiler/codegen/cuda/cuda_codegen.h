// The CUDA backend's entry point: kernel programs -> CUDA C -> cubin + PTX
// through NVRTC. The GEMMs themselves run in cuBLAS (the executor's job);
// only their epilogues are generated. Kernel names and parameters:
// kernel/cuda_abi.h.
#pragma once

#include <string>
#include <vector>

#include "compiler/codegen/cuda/cuda_source.h"
#include "kernel/kernel_ir.h"

namespace dlc::cuda {

/// One NVRTC translation unit's output.
struct CudaModuleCode {
  std::string cubin;
  std::string ptx;
};

/// The first module (the one with the fingerprint), then any further ones
/// (Executable::more_modules) when the kernels' source was split
/// (emit_cuda_modules in cuda_source.h).
struct CudaCode {
  std::string cubin;  // Executable::code
  std::string ptx;    // Executable::ptx
  std::vector<CudaModuleCode> more_modules;
};

struct CudaCodegenOptions {
  /// The GPU the cubin is for ("sm_80", "sm_90", ...).
  std::string gpu_arch = "sm_90";
  /// When set, receives the generated CUDA C (--emit-cuda).
  /// With several modules, their sources concatenated in module order.
  std::string* source = nullptr;
  /// Threads that run NVRTC on the modules (0: $DLC_CODEGEN_THREADS when
  /// set, else one per core, at most 16). The code does not depend on it.
  int threads = 0;
  /// Kernel source size above which the kernels are split into several
  /// modules (cuda_source.h, kModuleSplitBytes).
  size_t split_bytes = kModuleSplitBytes;
};

/// Throws dlc::Error for a program check_program rejects, an unknown
/// architecture, or NVRTC's log when the source does not compile.
CudaCode compile_programs(const std::vector<Program>& programs, const CudaCodegenOptions& opts = {});

}  // namespace dlc::cuda
