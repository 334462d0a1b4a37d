// The CUDA backend's entry point: kernel programs -> CUDA C -> cubin + PTX
// through NVRTC. The GEMMs themselves run in cuBLAS (the executor's job);
// only their epilogues are generated. Kernel names and parameters:
// kernel/cuda_abi.h.
#pragma once

#include <string>
#include <vector>

#include "kernel/kernel_ir.h"

namespace dlc::cuda {

struct CudaCode {
  std::string cubin;  // Executable::code
  std::string ptx;    // Executable::ptx
};

struct CudaCodegenOptions {
  /// The GPU the cubin is for ("sm_80", "sm_90", ...).
  std::string gpu_arch = "sm_90";
  /// When set, receives the generated CUDA C (--emit-cuda).
  std::string* source = nullptr;
};

/// Throws dlc::Error for a program check_program rejects, an unknown
/// architecture, or NVRTC's log when the source does not compile.
CudaCode compile_programs(const std::vector<Program>& programs, const CudaCodegenOptions& opts = {});

}  // namespace dlc::cuda
