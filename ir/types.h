// Element types and tensor types of the graph IR.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/dlc.pb.h"

namespace dlc {

enum class DType { f32, f64, i32, i64, boolean };

/// The symbolic batch dimension, bound by `dlc compile --batch N`.
constexpr int64_t kBatch = -1;

/// A tensor's element type and static dimensions (kBatch for the batch dim).
struct TensorType {
  DType dtype = DType::f32;
  std::vector<int64_t> dims;

  int64_t rank() const { return static_cast<int64_t>(dims.size()); }
  /// Number of elements; the batch dimension must already be bound.
  int64_t numel() const;
  bool has_batch() const;
  bool operator==(const TensorType& o) const { return dtype == o.dtype && dims == o.dims; }
  bool operator!=(const TensorType& o) const { return !(*this == o); }
  /// "f32[batch,256]".
  std::string str() const;
};

const char* dtype_name(DType t);
bool is_float(DType t);
bool is_integer(DType t);  // i32, i64 (not bool)
int64_t dtype_size(DType t);

DType from_proto(proto::DType t);
proto::DType to_proto(DType t);
TensorType from_proto(const proto::TensorType& t);
proto::TensorType to_proto(const TensorType& t);

/// "[batch,256]".
std::string dims_str(const std::vector<int64_t>& dims);

/// Numpy broadcasting of two shapes; false when they do not broadcast.
bool broadcast_dims(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                    std::vector<int64_t>* out);

/// Row-major strides of `dims` (bound).
std::vector<int64_t> strides_of(const std::vector<int64_t>& dims);

/// Normalizes a possibly negative axis; returns -1 when out of range.
int64_t normalize_axis(int64_t axis, int64_t rank);

}  // namespace dlc
