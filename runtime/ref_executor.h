// The ref executor: runs an executable's entry points through the reference
// interpreter. It is the oracle the native executors are compared with.
#pragma once

#include <map>
#include <string>

#include "ir/graph.h"
#include "ir/tensor.h"
#include "runtime/executor.h"

namespace dlc {

class ProcessGroup;

class RefExecutor : public Executor {
 public:
  /// `exe` must be valid (kernel/executable.h); the persistent state starts
  /// as its initial parameters.
  explicit RefExecutor(const proto::Executable& exe);

  /// Feeds `inputs` and the persistent state, evaluates the entry point's
  /// outputs and update values, then assigns every update at once. The
  /// entry point "train_step" runs in training mode (dropout active) with
  /// the executable's seed and, as step, the value of its STEP-role input.
  void run(const std::string& entry, const std::map<std::string, HostTensor>& inputs,
           std::map<std::string, HostTensor>* outputs) override;

  HostTensor get_state(const std::string& name) const override;
  /// Throws dlc::Error when `name` is not persistent or the type differs.
  void set_state(const std::string& name, const HostTensor& value) override;

 private:
  Graph graph_;
  std::map<std::string, proto::EntryPoint> entries_;
  uint64_t seed_ = 0;
  ProcessGroup* group_ = nullptr;  // data-parallel executables: the run's processes
  /// Persistent tensors by name; inputs join them only during a run.
  std::map<std::string, Tensor> feeds_;
};

/// Converts between host bytes and the interpreter's float64 tensors.
Tensor to_tensor(const HostTensor& h);
HostTensor to_host(const Tensor& t);

/// Rounds `t`'s values to what its dtype stores (float32 rounding included),
/// so persistent state never holds more precision than a checkpoint keeps.
void round_to_storage(Tensor& t);

}  // namespace dlc
