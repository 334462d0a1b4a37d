#include "compiler/codegen/cuda/cuda_kernel_frame.h"

namespace dlc::cuda {

std::string item_function_begin(const std::string& symbol, bool draws, bool lanes) {
  std::string run = draws ? "unsigned long long seed, unsigned long long step" : "unsigned long long, unsigned long long";
  return "__device__ inline void " + symbol + "_item(char* const* buffers, long long t, " +
         (lanes ? "int lane, " : "") + run + ") {\n";
}

std::string grid_stride_kernel(const std::string& symbol, bool draws, bool lanes) {
  // The step is read once, and only by kernels that draw masks.
  std::string step = draws ? "  const unsigned long long step = *step_at;\n" : "  (void)step_at;\n";
  std::string call = lanes ? symbol + "_item(buffers, t / DLC_LANES, (int)(t % DLC_LANES), seed, " :
                             symbol + "_item(buffers, t, seed, ";
  return "extern \"C\" __global__ void " + symbol +
         "(char* const* buffers, long long threads, unsigned long long seed, const unsigned long long* step_at) {\n" +
         step +
         "  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < threads;\n"
         "       t += (long long)gridDim.x * blockDim.x)\n"
         "    " + call + (draws ? "step" : "0ULL") + ");\n"
         "}\n";
}

}  // namespace dlc::cuda
