// The interface every backend's executor implements (ref, cpu, cuda).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/dlc.pb.h"
#include "ir/types.h"

namespace dlc {

/// A tensor in host memory, elements stored little-endian as `type.dtype`.
struct HostTensor {
  TensorType type;
  std::vector<uint8_t> bytes;

  HostTensor() = default;
  explicit HostTensor(TensorType t)
      : type(std::move(t)), bytes(static_cast<size_t>(type.numel() * dtype_size(type.dtype)), 0) {}
  /// A tensor of type `t` holding a copy of the bytes at `data` (no zero
  /// fill first: inputs and outputs of every run pass through here).
  static HostTensor copy_of(TensorType t, const void* data) {
    HostTensor h;
    h.type = std::move(t);
    const auto* p = static_cast<const uint8_t*>(data);
    h.bytes.assign(p, p + h.type.numel() * dtype_size(h.type.dtype));
    return h;
  }
  int64_t numel() const { return type.numel(); }
  template <typename T> T* as() { return reinterpret_cast<T*>(bytes.data()); }
  template <typename T> const T* as() const { return reinterpret_cast<const T*>(bytes.data()); }
  /// Element i converted to double, whatever the dtype.
  double get(int64_t i) const;
  /// Stores v converted to the dtype at element i.
  void set(int64_t i, double v);
};

/// Runs the entry points of one loaded executable. It owns the persistent
/// state (parameters and optimizer state) between calls.
class Executor {
 public:
  virtual ~Executor() = default;

  /// Runs `entry` ("predict", "train_step"). `inputs` holds every input the
  /// entry point names, with the executable's declared types (the caller
  /// has checked them). Fills `outputs` with the entry point's outputs and
  /// applies its state updates.
  virtual void run(const std::string& entry, const std::map<std::string, HostTensor>& inputs,
                   std::map<std::string, HostTensor>* outputs) = 0;

  /// Runs `entry` on the caller's memory: `inputs[i]` holds the entry
  /// point's i-th input and `outputs[j]` receives its j-th output, or is
  /// nullptr when the caller does not want it (order of proto::EntryPoint).
  /// Each has the declared dtype and element count and is aligned to its
  /// element size (the caller has checked). Executors that can read the
  /// inputs and write the outputs in place do so and return true; the
  /// default returns false without running, and the caller goes through
  /// run() with copies.
  virtual bool run_bound(const std::string& entry, const void* const* inputs, void* const* outputs) {
    (void)entry, (void)inputs, (void)outputs;
    return false;
  }

  /// Reads or replaces a persistent tensor (parameter or optimizer state).
  virtual HostTensor get_state(const std::string& name) const = 0;
  virtual void set_state(const std::string& name, const HostTensor& value) = 0;
};

/// Creates the executor for `exe.target()`; throws dlc::Error for a target
/// this build cannot run.
std::unique_ptr<Executor> make_executor(const proto::Executable& exe);

}  // namespace dlc
