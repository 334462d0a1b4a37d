// The frame every generated kernel shares (kernel/cuda_abi.h): the
// work of one item is a __device__ function `SYMBOL_item(buffers, t, [lane,]
// seed, step)`, and the __global__ `SYMBOL(buffers, threads, seed, step_at)`
// calls it in a grid-stride loop, one thread per item or DLC_LANES (a warp)
// per item.
// Keeping the item separate lets the same source run on the host (with
// tests/cuda_host_prelude.h, where DLC_LANES is 1), one thread walking every
// item.
#pragma once

#include <string>

namespace dlc::cuda {

/// "__device__ inline void SYMBOL_item(char* const* buffers, long long t,
/// [int lane,] unsigned long long seed, unsigned long long step) {\n"; seed
/// and step go unnamed unless the item `draws` dropout masks (no unused
/// parameters); `lane` is there when the item has `lanes`.
std::string item_function_begin(const std::string& symbol, bool draws, bool lanes);

/// The __global__ kernel `symbol` running `symbol`_item over its items, one
/// thread each or, with `lanes`, DLC_LANES threads each.
std::string grid_stride_kernel(const std::string& symbol, bool draws, bool lanes);

}  // namespace dlc::cuda
