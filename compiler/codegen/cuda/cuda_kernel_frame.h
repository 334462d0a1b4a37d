// The frame every generated kernel shares (kernel/cuda_abi.h): the
// work of one item is a __device__ function `SYMBOL_item(buffers, t, seed,
// step)`, and the __global__ `SYMBOL(buffers, items, seed, step)` calls it
// in a grid-stride loop.
// Keeping the item separate lets the same source run on the host (with
// tests/cuda_host_prelude.h), one thread walking every item.
#pragma once

#include <string>

namespace dlc::cuda {

/// "__device__ inline void SYMBOL_item(char* const* buffers, long long t,
/// unsigned long long seed, unsigned long long step) {\n"; seed and step go
/// unnamed unless the item `draws` dropout masks (no unused parameters).
std::string item_function_begin(const std::string& symbol, bool draws);

/// The __global__ kernel `symbol` running `symbol`_item over its items.
std::string grid_stride_kernel(const std::string& symbol);

}  // namespace dlc::cuda
