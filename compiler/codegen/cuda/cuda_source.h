// Kernel programs -> readable CUDA C (one translation unit, or several for
// large models: emit_cuda_modules): the device
// prelude (cuda_text.h), the programs' fingerprint, and for each step with
// a kernel (cuda_abi::has_kernel) a comment naming the step, its kind and
// graph nodes, then the kernel under cuda_abi::kernel_symbol.
#pragma once

#include <string>
#include <vector>

#include "kernel/kernel_ir.h"

namespace dlc::cuda {

/// Runs check_program on each program (throws dlc::Error when one is malformed).
std::string emit_cuda_source(const std::vector<Program>& programs);

/// Kernel source (comments and kernels) above which the programs are split
/// into several translation units: NVRTC's time grows faster than linearly
/// with one unit's size, and units compile concurrently.
constexpr size_t kModuleSplitBytes = size_t{512} << 10;

/// The same kernels as emit_cuda_source, as one or more translation units:
/// each is the header and prelude, then a contiguous run of the kernels in
/// program order; the fingerprint is in the first only. One unit, equal to
/// emit_cuda_source's text, when the kernels' source is at most
/// `split_bytes`; above it ceil(size / split_bytes) units balanced by
/// source size. The split depends only on the programs, never on threads.
std::vector<std::string> emit_cuda_modules(const std::vector<Program>& programs,
                                           size_t split_bytes = kModuleSplitBytes);

}  // namespace dlc::cuda
