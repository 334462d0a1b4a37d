// Text building blocks shared by the CUDA C emitters: C type names,
// literals, index arithmetic, and typed element loads and stores (the CUDA C
// counterparts of compiler/codegen/cpu/emit_util.h, with the same semantics).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/types.h"
#include "kernel/kernel_ir.h"

namespace dlc::cuda {

/// The compute type of a kernel: "float", or "double" for loop kernels that
/// touch an i32/i64/f64 buffer (as the cpu LoopEmitter's value type).
enum class ComputeType { f32, f64 };

const char* c_type(ComputeType t);
/// The C type one element of `dtype` occupies in memory ("unsigned char" for bool).
const char* element_c_type(DType dtype);
/// True for dtypes a float kernel would not hold exactly (f64, i32, i64).
bool needs_double(DType dtype);

/// `v` as a literal of type `t` that reads back exactly (float constants
/// are rounded to float first, as the cpu emitter does); infinities and NaN
/// through bit patterns, negative values in parentheses.
std::string literal(double v, ComputeType t);

/// "offset + i0 * s0 + ..." over the index variables `idx` (one per dim;
/// dims with stride 0 are skipped), in long long.
std::string index_text(int64_t offset, const std::vector<int64_t>& strides, const std::vector<std::string>& idx);

/// `ptr[index]` converted to `t` (integers exactly as far as `t` holds
/// them, bool as 0/1).
std::string load_text(DType dtype, const std::string& ptr, const std::string& index, ComputeType t);

/// The statement storing `value` (of type `t`) at `ptr[index]`: f32/f64
/// plain, integers truncated toward zero with saturation and NaN -> 0, bool
/// 1 for any non-zero value (NaN included).
std::string store_text(DType dtype, const std::string& ptr, const std::string& index, const std::string& value);

/// Dropout's keep bit (1 or 0, as type `t`) for flat index `index` under
/// `mask`, from the item's `seed` and `step` (the kernel's arguments).
std::string dropout_keep_text(const DropoutMask& mask, const std::string& index, ComputeType t);

/// The declaration of a pointer to buffer `id`: "T* b<id> = (T*)buffers[id];".
std::string buffer_pointer(int id, DType dtype);
inline std::string buffer_name(int id) { return "b" + std::to_string(id); }

/// The helpers every generated translation unit starts with.
extern const char* const kDevicePrelude;

}  // namespace dlc::cuda
