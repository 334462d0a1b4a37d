// HostTensor element access and the choice of executor per target.
#include "runtime/executor.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "ir/error.h"
#include "runtime/ref_executor.h"

// The cpu executor (helper "cpu") declares make_cpu_executor in this header;
// builds without it refuse cpu executables with a clear error.
#if __has_include("runtime/cpu_executor.h")
#include "runtime/cpu_executor.h"
#define DLRT_HAS_CPU_EXECUTOR 1
#endif
// Builds with the CUDA toolkit's headers (DLC_WITH_CUDA) have the cuda
// executor; it loads the driver only when a cuda executable is opened.
#ifdef DLC_WITH_CUDA
#include "runtime/cuda/cuda_executor.h"
#endif

namespace dlc {
namespace {

// Element bytes are little-endian by definition; this runtime only targets
// little-endian hosts, so a memcpy is the conversion.
static_assert(std::endian::native == std::endian::little, "dlrt assumes a little-endian host");

template <typename T> T load_at(const std::vector<uint8_t>& bytes, int64_t i) {
  T v;
  std::memcpy(&v, bytes.data() + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return v;
}

template <typename T> void store_at(std::vector<uint8_t>& bytes, int64_t i, T v) {
  std::memcpy(bytes.data() + i * static_cast<int64_t>(sizeof(T)), &v, sizeof(T));
}

/// Float to integer without undefined behaviour: NaN becomes 0 and values
/// beyond the type's range saturate.
template <typename I> I saturating_cast(double v) {
  if (std::isnan(v)) return 0;
  if (v <= static_cast<double>(std::numeric_limits<I>::min())) return std::numeric_limits<I>::min();
  if (v >= static_cast<double>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
  return static_cast<I>(v);
}

}  // namespace

double HostTensor::get(int64_t i) const {
  switch (type.dtype) {
    case DType::f32: return load_at<float>(bytes, i);
    case DType::f64: return load_at<double>(bytes, i);
    case DType::i32: return load_at<int32_t>(bytes, i);
    case DType::i64: return static_cast<double>(load_at<int64_t>(bytes, i));
    case DType::boolean: return bytes[static_cast<size_t>(i)] != 0 ? 1.0 : 0.0;
  }
  return 0;
}

void HostTensor::set(int64_t i, double v) {
  switch (type.dtype) {
    case DType::f32: store_at<float>(bytes, i, static_cast<float>(v)); return;
    case DType::f64: store_at<double>(bytes, i, v); return;
    case DType::i32: store_at<int32_t>(bytes, i, saturating_cast<int32_t>(v)); return;
    case DType::i64: store_at<int64_t>(bytes, i, saturating_cast<int64_t>(v)); return;
    case DType::boolean: bytes[static_cast<size_t>(i)] = v != 0.0 ? 1 : 0; return;
  }
}

std::unique_ptr<Executor> make_executor(const proto::Executable& exe) {
  const std::string& target = exe.target();
  if (target == "ref") return std::make_unique<RefExecutor>(exe);
  if (target == "cpu") {
#ifdef DLRT_HAS_CPU_EXECUTOR
    return make_cpu_executor(exe);
#else
    throw Error("this build has no cpu executor; compile the model with --target ref");
#endif
  }
  if (target == "cuda") {
#ifdef DLC_WITH_CUDA
    return make_cuda_executor(exe);
#else
    throw Error("this build has no cuda executor (built without the CUDA toolkit); compile the model with --target cpu or ref");
#endif
  }
  throw Error("unknown target '" + target + "'");
}

}  // namespace dlc
