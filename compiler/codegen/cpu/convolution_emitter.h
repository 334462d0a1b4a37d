// Small convolutions as generated kernels (ConvCall::generated).
//
// oneDNN's convolutions block channels by 8 or 16, so a convolution with few
// channels (LeNet-5's 1 -> 6 and 6 -> 16) spends most lanes on padding, and
// its reorders cost as much again. The compiler knows every size, so it
// emits such a pass as a register-tiled direct convolution instead: each
// image is staged into a zero-padded buffer, each output row is a tile of
// accumulators (lanes along the row's columns, one register per filter of a
// block) that every tap's row of pixels multiplies with a broadcast weight.
// The input gradient is the same product on the result's gradient, with the
// weights flipped and the filter and channel roles swapped (stride 1). The
// weight gradient keeps one accumulator per tap of a (filter, channel) pair
// and sums the result gradient's rows times the staged rows under each tap.
#pragma once

#include <llvm/IR/Module.h>

#include <string>
#include <vector>

#include "kernel/kernel_ir.h"

namespace dlc::cpu {

/// The float lanes of a direct convolution's vectors on a CPU with
/// `features` (TargetCpu::features): 16 with AVX-512, 8 with AVX2 and FMA,
/// else 0 (no direct convolutions: oneDNN's run-time dispatch does better).
int convolution_lanes(const std::vector<std::string>& features);

/// Whether the cpu target generates `c` on `lanes`-wide vectors: any pass
/// with stride and dilation 1, at most 32 channels and filters, what it
/// stages in 64 KiB, rows of the result (forward, weight gradient) or image
/// (input gradient) that fill at least 3/4 of the vector lanes they take,
/// and at least 4 accumulators per tile.
bool generates_convolution(const ConvCall& c, int lanes);

/// Sets ConvCall::generated on the convolution steps of `programs` that
/// generates_convolution accepts (and clears it on the others).
void choose_generated_convolutions(std::vector<Program>& programs, int lanes);

/// Emits `c` (generates_convolution holds) as the kernel function `name`
/// (kernel/cpu_abi.h): over the batch's images (forward, input gradient)
/// or the (filter, channel) pairs (weight gradient). Each element written
/// sums its products in one fixed order, whatever the split over threads.
void emit_convolution_kernel(llvm::Module& m, const ConvCall& c, const std::string& name, int lanes);

}  // namespace dlc::cpu
