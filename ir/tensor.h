// A tensor as the reference interpreter holds it: every element in float64.
//
// Integer and boolean values are stored exactly (|x| < 2^53); float32 values
// are carried at double precision so the interpreter can serve as the oracle.
#pragma once

#include <string>
#include <vector>

#include "ir/types.h"

namespace dlc {

struct Tensor {
  TensorType type;
  std::vector<double> data;

  Tensor() = default;
  explicit Tensor(TensorType t) : type(std::move(t)), data(static_cast<size_t>(type.numel()), 0.0) {}
  Tensor(TensorType t, std::vector<double> values) : type(std::move(t)), data(std::move(values)) {}

  int64_t numel() const { return static_cast<int64_t>(data.size()); }
  double& operator[](int64_t i) { return data[static_cast<size_t>(i)]; }
  double operator[](int64_t i) const { return data[static_cast<size_t>(i)]; }
  /// A rank-0 f32 tensor.
  static Tensor scalar(double v, DType dtype = DType::f32) { return Tensor({dtype, {}}, {v}); }
};

/// Flat offset in `from` of the element at `out_index` of a broadcast to `to`.
/// `from` must broadcast to `to` under numpy rules.
int64_t broadcast_offset(const std::vector<int64_t>& from, const std::vector<int64_t>& to,
                         int64_t out_index);

/// Rounds stored values as `dtype` would hold them: truncation for integers,
/// 0/1 for bool; floats are left alone.
void round_to_dtype(Tensor& t);

}  // namespace dlc
