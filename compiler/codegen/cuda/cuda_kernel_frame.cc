#include "compiler/codegen/cuda/cuda_kernel_frame.h"

namespace dlc::cuda {

std::string item_function_begin(const std::string& symbol, bool draws) {
  std::string run = draws ? "unsigned long long seed, unsigned long long step" : "unsigned long long, unsigned long long";
  return "__device__ inline void " + symbol + "_item(char* const* buffers, long long t, " + run + ") {\n";
}

std::string grid_stride_kernel(const std::string& symbol) {
  return "extern \"C\" __global__ void " + symbol +
         "(char* const* buffers, long long items, unsigned long long seed, unsigned long long step) {\n"
         "  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < items;\n"
         "       t += (long long)gridDim.x * blockDim.x)\n"
         "    " + symbol + "_item(buffers, t, seed, step);\n"
         "}\n";
}

}  // namespace dlc::cuda
