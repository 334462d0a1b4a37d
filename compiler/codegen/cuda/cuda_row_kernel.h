// CUDA C for one row kernel (softmax, log_softmax, softmax_xent,
// softmax_xent_grad): one item per row, as cuda_abi::row_items counts them.
// Semantics as compiler/codegen/cpu/row_emitter.cc: float math, row max
// NaN-propagating, the sum of exponentials in double.
#pragma once

#include <string>

#include "compiler/kernel_ir.h"

namespace dlc::cuda {

/// Appends `SYMBOL_item` and the kernel `SYMBOL`; for softmax_xent also
/// `SYMBOL_finish` (cuda_abi::finish_symbol), run with 1 item, which stores
/// the mean of the per-row losses summed in row order.
void emit_row_kernel(std::string* out, const Program& p, const RowKernel& r, const std::string& symbol);

}  // namespace dlc::cuda
