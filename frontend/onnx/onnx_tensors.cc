// Decoding ONNX tensors (raw bytes, typed fields, external data files) and
// reading node attributes.
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "frontend/onnx/onnx_context.h"
#include "ir/error.h"
#include "ir/file_io.h"

namespace dlc::onnx_import {
namespace {

template <typename T>
void append_raw(const std::string& raw, std::vector<double>* out) {
  size_t n = raw.size() / sizeof(T);
  out->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));  // little-endian, as ONNX stores it
    out->push_back(static_cast<double>(v));
  }
}

/// The bytes of an external tensor: location, offset and length in a file
/// beside the model. The location may not leave the model's folder.
std::string external_bytes(const onnx::TensorProto& t, const std::string& model_dir, const std::string& what) {
  std::string location;
  int64_t offset = 0, length = -1;
  auto number = [&](const std::string& key, const std::string& text) {
    char* end = nullptr;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || v < 0) throw Error(what + ": external data " + key + " '" + text + "' is not a size");
    return static_cast<int64_t>(v);
  };
  for (const auto& kv : t.external_data()) {
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset") offset = number("offset", kv.value());
    else if (kv.key() == "length") length = number("length", kv.value());
  }
  if (location.empty()) throw Error(what + ": external data without a location");
  if (location[0] == '/' || location.find("..") != std::string::npos)
    throw Error(what + ": external data location '" + location + "' is outside the model's folder");
  if (model_dir.empty()) throw Error(what + ": external data '" + location + "', but the model was not read from a file");
  std::string path = model_dir + "/" + location;
  std::string bytes = read_file_bytes(path);
  if (offset < 0 || offset > static_cast<int64_t>(bytes.size()) ||
      (length >= 0 && length > static_cast<int64_t>(bytes.size()) - offset))
    throw Error(what + ": external data " + path + " has " + std::to_string(bytes.size()) +
                " bytes, fewer than offset " + std::to_string(offset) + " + length " + std::to_string(length));
  return length < 0 ? bytes.substr(static_cast<size_t>(offset))
                    : bytes.substr(static_cast<size_t>(offset), static_cast<size_t>(length));
}

}  // namespace

bool Known::has_batch() const {
  for (bool b : batch)
    if (b) return true;
  return false;
}

std::vector<int64_t> Known::ints(const std::string& what) const {
  std::vector<int64_t> out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] != std::floor(values[i])) throw Error(what + ": " + std::to_string(values[i]) + " is not whole");
    out.push_back(static_cast<int64_t>(values[i]));
  }
  return out;
}

Known decode_tensor(const onnx::TensorProto& t, const std::string& model_dir, const std::string& what) {
  Known k;
  int64_t numel = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && numel > (int64_t{1} << 40) / d)) throw Error(what + ": bad dims");
    numel *= d;
    k.dims.push_back(d);
  }
  std::string raw;
  bool has_raw = t.has_raw_data();
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    raw = external_bytes(t, model_dir, what);
    has_raw = true;
  } else if (has_raw) {
    raw = t.raw_data();
  }
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      k.dtype = DType::f32;
      if (has_raw) append_raw<float>(raw, &k.values);
      else k.values.assign(t.float_data().begin(), t.float_data().end());
      break;
    case onnx::TensorProto::DOUBLE:
      k.dtype = DType::f64;
      if (has_raw) append_raw<double>(raw, &k.values);
      else k.values.assign(t.double_data().begin(), t.double_data().end());
      break;
    case onnx::TensorProto::INT64:
      k.dtype = DType::i64;
      if (has_raw) append_raw<int64_t>(raw, &k.values);
      else k.values.assign(t.int64_data().begin(), t.int64_data().end());
      break;
    case onnx::TensorProto::INT32:
      k.dtype = DType::i32;
      if (has_raw) append_raw<int32_t>(raw, &k.values);
      else k.values.assign(t.int32_data().begin(), t.int32_data().end());
      break;
    case onnx::TensorProto::BOOL:
      k.dtype = DType::boolean;
      if (has_raw) append_raw<uint8_t>(raw, &k.values);
      else k.values.assign(t.int32_data().begin(), t.int32_data().end());
      break;
    default:
      throw Error(what + ": tensor element type " + onnx::TensorProto::DataType_Name(
                                                         static_cast<onnx::TensorProto::DataType>(t.data_type())) +
                  " is not supported (dlc has float, double, int32, int64 and bool)");
  }
  if (static_cast<int64_t>(k.values.size()) != numel)
    throw Error(what + ": " + std::to_string(k.values.size()) + " values for dims of " + std::to_string(numel) +
                " elements");
  k.batch.assign(k.values.size(), false);
  return k;
}

const onnx::AttributeProto* attribute(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t node_int(const onnx::NodeProto& n, const std::string& name, int64_t fallback) {
  const auto* a = attribute(n, name);
  return a ? a->i() : fallback;
}

double node_float(const onnx::NodeProto& n, const std::string& name, double fallback) {
  const auto* a = attribute(n, name);
  return a ? a->f() : fallback;
}

std::vector<int64_t> node_ints(const onnx::NodeProto& n, const std::string& name) {
  const auto* a = attribute(n, name);
  if (!a) return {};
  return {a->ints().begin(), a->ints().end()};
}

std::string node_string(const onnx::NodeProto& n, const std::string& name, const std::string& fallback) {
  const auto* a = attribute(n, name);
  return a ? a->s() : fallback;
}

}  // namespace dlc::onnx_import
