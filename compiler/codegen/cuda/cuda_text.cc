#include "compiler/codegen/cuda/cuda_text.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "ir/philox.h"

namespace dlc::cuda {

const char* c_type(ComputeType t) { return t == ComputeType::f64 ? "double" : "float"; }

const char* element_c_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return "float";
    case DType::f64: return "double";
    case DType::i32: return "int";
    case DType::i64: return "long long";
    case DType::boolean: return "unsigned char";
  }
  return "float";
}

bool needs_double(DType dtype) { return dtype == DType::f64 || dtype == DType::i32 || dtype == DType::i64; }

std::string literal(double v, ComputeType t) {
  bool f32 = t == ComputeType::f32;
  if (f32) v = static_cast<float>(v);  // may overflow to an infinity
  if (std::isnan(v)) return f32 ? "__int_as_float(0x7fc00000)" : "__longlong_as_double(0x7ff8000000000000LL)";
  if (std::isinf(v)) {
    if (f32) return v > 0 ? "__int_as_float(0x7f800000)" : "__int_as_float(0xff800000)";
    return v > 0 ? "__longlong_as_double(0x7ff0000000000000LL)" : "__longlong_as_double(0xfff0000000000000LL)";
  }
  char buf[64];
  // %.9g (float) and %.17g (double) read back to the same bits.
  if (f32) snprintf(buf, sizeof buf, "%.9g", v);
  else snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // "2" -> "2.0"
  if (f32) s += "f";
  if (std::signbit(v)) s = "(" + s + ")";
  return s;
}

std::string index_text(int64_t offset, const std::vector<int64_t>& strides, const std::vector<std::string>& idx) {
  std::string s;
  for (size_t d = 0; d < strides.size(); ++d) {
    if (strides[d] == 0) continue;
    if (!s.empty()) s += " + ";
    s += idx[d];
    if (strides[d] != 1) s += " * " + std::to_string(strides[d]) + "LL";
  }
  if (offset != 0 || s.empty()) s = s.empty() ? std::to_string(offset) + "LL" : std::to_string(offset) + "LL + " + s;
  return s;
}

std::string load_text(DType dtype, const std::string& ptr, const std::string& index, ComputeType t) {
  std::string elem = ptr + "[" + index + "]";
  const char* ct = c_type(t);
  switch (dtype) {
    case DType::f32: return t == ComputeType::f32 ? elem : "(double)" + elem;
    case DType::f64: return t == ComputeType::f64 ? elem : "(float)" + elem;
    case DType::i32:
    case DType::i64: return "(" + std::string(ct) + ")" + elem;
    case DType::boolean: return "(" + elem + " != 0 ? " + literal(1, t) + " : " + literal(0, t) + ")";
  }
  return elem;
}

std::string store_text(DType dtype, const std::string& ptr, const std::string& index, const std::string& value) {
  std::string to = ptr + "[" + index + "] = ";
  bool simple = value.find_first_of(" ()") == std::string::npos;
  std::string v = simple ? value : "(" + value + ")";
  switch (dtype) {
    case DType::f32: return to + "(float)" + v + ";";
    case DType::f64: return to + "(double)" + v + ";";
    case DType::i32: return to + "dlc_to_i32(" + value + ");";
    case DType::i64: return to + "dlc_to_i64(" + value + ");";
    case DType::boolean: return to + "(" + v + " != 0 ? 1 : 0);";
  }
  return to + value + ";";
}

std::string dropout_keep_text(const DropoutMask& mask, const std::string& index, ComputeType t) {
  char key[32];
  std::snprintf(key, sizeof key, "0x%016llxULL", static_cast<unsigned long long>(mix64(mask.key)));
  std::string call = "dlc_dropout_keep(seed ^ " + std::string(key) + ", step, " + index + ", " + literal(mask.rate, ComputeType::f32) + ")";
  return t == ComputeType::f32 ? call : "(double)" + call;
}

std::string buffer_pointer(int id, DType dtype) {
  std::string t = element_c_type(dtype);
  return t + "* " + buffer_name(id) + " = (" + t + "*)buffers[" + std::to_string(id) + "];";
}

const char* const kDevicePrelude = R"(// Float to integer as llvm.fptosi.sat: truncate toward zero, saturate, NaN -> 0.
__device__ inline int dlc_to_i32(double v) {
  if (v != v) return 0;
  if (v >= 2147483647.0) return 2147483647;
  if (v <= -2147483648.0) return -2147483647 - 1;
  return (int)v;
}
__device__ inline long long dlc_to_i64(double v) {
  if (v != v) return 0;
  if (v >= 9223372036854775807.0) return 9223372036854775807LL;
  if (v <= -9223372036854775807.0) return -9223372036854775807LL - 1;
  return (long long)v;
}
// max/min propagate NaN from either side (a + b is then NaN); sign(NaN) is 0.
__device__ inline float dlc_max(float a, float b) { return (a != a || b != b) ? a + b : (a > b ? a : b); }
__device__ inline double dlc_max(double a, double b) { return (a != a || b != b) ? a + b : (a > b ? a : b); }
__device__ inline float dlc_min(float a, float b) { return (a != a || b != b) ? a + b : (a < b ? a : b); }
__device__ inline double dlc_min(double a, double b) { return (a != a || b != b) ? a + b : (a < b ? a : b); }
// Reductions with a warp per item (kernel/cuda_abi.h lanes_per_item): the
// lanes' partial results combined in a fixed butterfly, then lane 0's result
// given to every lane, so all lanes go on with the same bits.
#ifndef DLC_LANES
#define DLC_LANES 32
#endif
#define DLC_LANES_COMBINE(name, T, combine)                                \
  __device__ inline T name(T v) {                                          \
    for (int o = DLC_LANES / 2; o > 0; o /= 2)                             \
      v = combine(v, __shfl_xor_sync(0xffffffffu, v, o, DLC_LANES));       \
    return __shfl_sync(0xffffffffu, v, 0, DLC_LANES);                      \
  }
__device__ inline double dlc_add(double a, double b) { return a + b; }
DLC_LANES_COMBINE(dlc_lanes_sum, double, dlc_add)
DLC_LANES_COMBINE(dlc_lanes_max, float, dlc_max)
DLC_LANES_COMBINE(dlc_lanes_max, double, dlc_max)
DLC_LANES_COMBINE(dlc_lanes_min, float, dlc_min)
DLC_LANES_COMBINE(dlc_lanes_min, double, dlc_min)
#undef DLC_LANES_COMBINE
__device__ inline float dlc_sign(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f); }
__device__ inline double dlc_sign(double x) { return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : 0.0); }
// Dropout's keep bit as ir/philox.h draws it: Philox 4x32-10 of counter
// {index / 4, step} under `key` (the seed mixed with the node's key), word
// index % 4, its top 24 bits as a float in [0, 1) compared with `rate`.
__device__ inline float dlc_dropout_keep(unsigned long long key, unsigned long long step, long long index, float rate) {
  const unsigned long long block = (unsigned long long)index >> 2;
  unsigned int c0 = (unsigned int)block, c1 = (unsigned int)(block >> 32);
  unsigned int c2 = (unsigned int)step, c3 = (unsigned int)(step >> 32);
  unsigned int k0 = (unsigned int)key, k1 = (unsigned int)(key >> 32);
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const unsigned long long p0 = 0xD2511F53ull * c0, p1 = 0xCD9E8D57ull * c2;
    const unsigned int n0 = (unsigned int)(p1 >> 32) ^ c1 ^ k0, n2 = (unsigned int)(p0 >> 32) ^ c3 ^ k1;
    c1 = (unsigned int)p1;
    c3 = (unsigned int)p0;
    c0 = n0;
    c2 = n2;
  }
  const unsigned int lane = (unsigned int)(index & 3), word = lane == 0 ? c0 : lane == 1 ? c1 : lane == 2 ? c2 : c3;
  return (float)(word >> 8) * 5.9604644775390625e-8f >= rate ? 1.0f : 0.0f;
}
)";

}  // namespace dlc::cuda
