#include "compiler/codegen/cuda/cuda_kernel_frame.h"

namespace dlc::cuda {

std::string item_function_begin(const std::string& symbol) {
  return "__device__ inline void " + symbol + "_item(char* const* buffers, long long t) {\n";
}

std::string grid_stride_kernel(const std::string& symbol) {
  return "extern \"C\" __global__ void " + symbol + "(char* const* buffers, long long items) {\n"
         "  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < items;\n"
         "       t += (long long)gridDim.x * blockDim.x)\n"
         "    " + symbol + "_item(buffers, t);\n"
         "}\n";
}

}  // namespace dlc::cuda
