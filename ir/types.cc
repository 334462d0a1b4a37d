#include "ir/types.h"

#include <algorithm>

namespace dlc {

int64_t TensorType::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

bool TensorType::has_batch() const {
  return std::find(dims.begin(), dims.end(), kBatch) != dims.end();
}

std::string dims_str(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ",";
    s += dims[i] == kBatch ? "batch" : std::to_string(dims[i]);
  }
  return s + "]";
}

std::string TensorType::str() const { return std::string(dtype_name(dtype)) + dims_str(dims); }

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::boolean: return "bool";
  }
  return "?";
}

bool is_float(DType t) { return t == DType::f32 || t == DType::f64; }
bool is_integer(DType t) { return t == DType::i32 || t == DType::i64; }

int64_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: case DType::i32: return 4;
    case DType::f64: case DType::i64: return 8;
    case DType::boolean: return 1;
  }
  return 0;
}

DType from_proto(proto::DType t) {
  switch (t) {
    case proto::F64: return DType::f64;
    case proto::I32: return DType::i32;
    case proto::I64: return DType::i64;
    case proto::BOOL: return DType::boolean;
    default: return DType::f32;
  }
}

proto::DType to_proto(DType t) {
  switch (t) {
    case DType::f32: return proto::F32;
    case DType::f64: return proto::F64;
    case DType::i32: return proto::I32;
    case DType::i64: return proto::I64;
    case DType::boolean: return proto::BOOL;
  }
  return proto::F32;
}

TensorType from_proto(const proto::TensorType& t) {
  TensorType r;
  r.dtype = from_proto(t.dtype());
  r.dims.assign(t.dims().begin(), t.dims().end());
  return r;
}

proto::TensorType to_proto(const TensorType& t) {
  proto::TensorType r;
  r.set_dtype(to_proto(t.dtype));
  for (int64_t d : t.dims) r.add_dims(d);
  return r;
}

bool broadcast_dims(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                    std::vector<int64_t>* out) {
  size_t n = std::max(a.size(), b.size());
  std::vector<int64_t> r(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da == db || db == 1) r[i] = da;
    else if (da == 1) r[i] = db;
    else return false;
  }
  *out = std::move(r);
  return true;
}

std::vector<int64_t> strides_of(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (int64_t i = static_cast<int64_t>(dims.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

int64_t normalize_axis(int64_t axis, int64_t rank) {
  if (axis < 0) axis += rank;
  return (axis < 0 || axis >= rank) ? -1 : axis;
}

}  // namespace dlc
