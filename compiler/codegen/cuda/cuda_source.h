// Kernel programs -> one readable CUDA C translation unit: the device
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

}  // namespace dlc::cuda
