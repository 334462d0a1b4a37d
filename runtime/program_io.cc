#include "runtime/program_io.h"

#include <cmath>
#include <cstring>

#include "ir/error.h"

namespace dlc {
namespace {

std::string type_str(const Buffer& b) { return TensorType{b.dtype, b.dims}.str(); }

}  // namespace

void check_program_inputs(const Program& p, const proto::EntryPoint& entry,
                          const std::map<std::string, HostTensor>& inputs) {
  const std::string& name = p.entry;
  for (const auto& in : entry.inputs())
    if (!inputs.count(in)) throw Error("entry point '" + name + "' needs input '" + in + "'");
  for (const Buffer& b : p.buffers) {
    if (b.kind != BufferKind::input) continue;
    auto in = inputs.find(b.name);
    if (in == inputs.end()) throw Error("entry point '" + name + "' needs input '" + b.name + "'");
    const HostTensor& h = in->second;
    if (h.type.dtype != b.dtype || h.type.dims != b.dims)
      throw Error("entry point '" + name + "': input '" + b.name + "' is " + h.type.str() + ", expected " + type_str(b));
    if (static_cast<int64_t>(h.bytes.size()) != b.bytes())
      throw Error("entry point '" + name + "': input '" + b.name + "' holds " + std::to_string(h.bytes.size()) +
                  " bytes, expected " + std::to_string(b.bytes()));
  }
}

uint64_t step_from_inputs(const std::map<std::string, HostTensor>& inputs, const std::string& step_input,
                          uint64_t current) {
  auto it = step_input.empty() ? inputs.end() : inputs.find(step_input);
  if (it == inputs.end() || it->second.numel() != 1) return current;
  return step_number(it->second.type.dtype, it->second.bytes.data());
}

uint64_t step_number(DType dtype, const void* data) {
  auto load = [data](auto v) {
    std::memcpy(&v, data, sizeof v);
    return static_cast<double>(v);
  };
  double step = 0;
  switch (dtype) {
    case DType::f32: step = load(float{}); break;
    case DType::f64: step = load(double{}); break;
    case DType::i32: step = load(int32_t{}); break;
    case DType::i64: step = load(int64_t{}); break;
    case DType::boolean: step = *static_cast<const uint8_t*>(data) != 0 ? 1 : 0; break;
  }
  return std::isfinite(step) && step > 0 ? static_cast<uint64_t>(step) : 0;
}

void check_state_buffer(const std::string& entry, const Buffer& b, const std::map<std::string, TensorType>& state_types) {
  std::string where = "program '" + entry + "' buffer '" + b.name + "'";
  auto s = state_types.find(b.name);
  if (s == state_types.end()) throw Error(where + " names no parameter");
  if (s->second != TensorType{b.dtype, b.dims})
    throw Error(where + " is " + type_str(b) + " but the parameter is " + s->second.str());
}

void check_state_value(const std::string& name, const TensorType& type, const HostTensor& value) {
  if (value.type != type) throw Error("'" + name + "' is " + type.str() + ", cannot set it from " + value.type.str());
  const int64_t expected = type.numel() * dtype_size(type.dtype);
  if (static_cast<int64_t>(value.bytes.size()) != expected)
    throw Error("'" + name + "': the buffer holds " + std::to_string(value.bytes.size()) + " bytes, expected " +
                std::to_string(expected));
}

HostTensor constant_contents(const Buffer& b) {
  HostTensor h(TensorType{b.dtype, b.dims});
  for (int64_t i = 0; i < b.numel; ++i) h.set(i, b.data[static_cast<size_t>(i)]);
  return h;
}

}  // namespace dlc
