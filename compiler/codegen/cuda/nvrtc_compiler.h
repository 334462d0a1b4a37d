// In-process NVRTC: CUDA C source -> cubin and PTX for one GPU architecture.
#pragma once

#include <string>

namespace dlc::cuda {

struct NvrtcOutput {
  std::string cubin;  // ELF for `gpu_arch`
  std::string ptx;    // the same kernels as PTX, which the driver can compile for newer GPUs
  std::string log;    // NVRTC's warnings, if any
};

/// Compiles `source` (named `name` in messages) for `gpu_arch` ("sm_90",
/// "sm_80", ...; "sm_90a" style suffixes pass through) with accurate math
/// (no fast-math flags). Throws dlc::Error with NVRTC's log when the
/// source does not compile or the architecture is unknown.
NvrtcOutput nvrtc_compile(const std::string& source, const std::string& name, const std::string& gpu_arch);

}  // namespace dlc::cuda
