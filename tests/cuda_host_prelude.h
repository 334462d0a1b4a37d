// Lets the CUDA C that compiler/codegen/cuda generates compile as plain host
// C++ (`c++ -include tests/cuda_host_prelude.h -x c++ model.cu`): the CUDA
// qualifiers vanish and the launch is one block of one thread, so each
// kernel's grid-stride loop walks every item in order on the calling thread.
// The math functions (expf, tanhf, log1pf, ...) are the C library's.
#pragma once

#include <math.h>
#include <string.h>

#define __global__
#define __device__

struct dlc_host_dim3 {
  unsigned x;
};
static const dlc_host_dim3 blockIdx = {0}, threadIdx = {0}, blockDim = {1}, gridDim = {1};

// The bit-cast intrinsics the generated code writes infinities and NaN with.
inline float __int_as_float(int bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}
inline double __longlong_as_double(long long bits) {
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

// One lane per item on the host: the warp-per-item reductions walk their
// elements on the one thread, and combining lanes returns the value as is.
#define DLC_LANES 1
template <typename T> inline T __shfl_xor_sync(unsigned, T v, int, int) { return v; }
template <typename T> inline T __shfl_sync(unsigned, T v, int, int) { return v; }
inline void __syncwarp() {}
