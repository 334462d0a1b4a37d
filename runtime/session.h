// Session: one loaded executable with its executor and persistent state.
// The C++ core behind the C API (runtime/include/dlrt.h); it checks every
// argument against the executable's signature before the executor sees it.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ir/error.h"
#include "ir/graph.h"
#include "runtime/executor.h"

namespace dlc {

/// A fault in what the caller passed (an unknown name, a wrong dtype or
/// size), as opposed to a bad file or a failed run. The C API reports it as
/// DLRT_INVALID_ARGUMENT.
class ArgumentError : public Error {
 public:
  using Error::Error;
};

/// A named tensor as a session describes it.
struct TensorInfo {
  std::string name;
  TensorType type;
  bool is_input = false;                // a graph input, so `role` applies
  proto::InputRole role = proto::DATA;  // what a graph input carries
  bool trainable = false;               // persistent tensors: trained, not optimizer state
  bool optimizer_state = false;         // persistent tensors: the optimizer's, not the model's
};

struct EntryInfo {
  std::string name;
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  std::vector<std::string> updated;  // persistent tensors it assigns
};

class Session {
 public:
  /// What a session is for: running the executable (its target's executor
  /// is created, so a machine that cannot run the target fails here), or
  /// only describing it (no executor: any machine can inspect a cuda file).
  enum class Purpose { run, inspect };

  /// Loads and validates `path`, then creates its target's executor unless
  /// `purpose` is inspect. Throws dlc::Error naming the file (bad
  /// executable) or the target (cannot run).
  static std::unique_ptr<Session> open(const std::string& path, Purpose purpose = Purpose::run);
  /// `exe` must be valid (kernel/executable.h); `source` names it in errors.
  Session(proto::Executable exe, std::string source, Purpose purpose = Purpose::run);

  const std::string& source() const { return source_; }
  const proto::Executable& executable() const { return exe_; }
  const std::vector<TensorInfo>& inputs() const { return inputs_; }    // graph inputs
  const std::vector<TensorInfo>& outputs() const { return outputs_; }  // graph outputs
  const std::vector<TensorInfo>& params() const { return params_; }    // persistent tensors
  const std::vector<EntryInfo>& entries() const { return entries_; }
  /// Throws ArgumentError naming the entry point and listing those there are.
  const EntryInfo& entry(const std::string& name) const;
  /// Why entry point `entry` has no output `name`, for an error message:
  /// which entry points compute it instead and, when it needs a LABEL input
  /// that `entry` does not take (the loss from predict), that reason; then
  /// the outputs `entry` has.
  std::string missing_output_message(const std::string& entry, const std::string& name) const;
  /// Throws ArgumentError when `name` is not a persistent tensor.
  const TensorInfo& param(const std::string& name) const;
  /// The largest planned arena over the kernel programs; -1 when none is recorded.
  int64_t peak_memory_bytes() const;

  /// Runs an entry point. Every input it lists must be given exactly once
  /// with the declared dtype and element count (its dims are taken from the
  /// signature); anything else is an ArgumentError naming the input.
  /// `outputs` receives every output of the entry point.
  /// Taking `inputs` by value lets callers move their buffers in uncopied.
  void run(const std::string& entry, std::map<std::string, HostTensor> inputs,
           std::map<std::string, HostTensor>* outputs);

  /// Runs an entry point on the caller's memory: `inputs[i]` is its i-th
  /// input and `outputs[j]` receives its j-th output (the order of
  /// entry(name).inputs and .outputs), or is nullptr when not wanted. The
  /// caller has checked that each holds the declared dtype and element
  /// count. Executors that can bind the memory in place do (the cpu
  /// executor); otherwise, or while fusion is being verified, it goes
  /// through run() with copies.
  void run_bound(const std::string& name, const void* const* inputs, void* const* outputs);
  /// The last run_bound's time from its first kernel's start to its last
  /// kernel's end, in milliseconds (ObservableExecutor::last_kernel_span_ms);
  /// negative when that run went through run() or the executor keeps no span.
  double last_kernel_span_ms() const;

  /// From now on, the first run of each entry point is checked kernel by
  /// kernel against the reference interpreter (runtime/fusion_verifier.h):
  /// a kernel whose values differ by more than `tolerance` makes that run
  /// throw dlc::Error naming it (the run itself has happened). Throws
  /// ArgumentError when the target has no kernel programs (ref) or the
  /// tolerance is not a positive number.
  void verify_fusion(double tolerance);
  /// One line per verified entry point, in the order they ran.
  const std::vector<std::string>& fusion_reports() const { return fusion_reports_; }

  HostTensor get_param(const std::string& name) const;
  /// `value` must have the parameter's dtype and element count.
  void set_param(const std::string& name, const HostTensor& value);

  /// Saves every persistent tensor and `metadata` as a safetensors file, atomically.
  void save_checkpoint(const std::string& path, const std::map<std::string, std::string>& metadata) const;
  /// Like save_checkpoint without the optimizer's state: the model's weights
  /// (trained parameters and state such as batch-norm running statistics).
  void save_weights(const std::string& path, const std::map<std::string, std::string>& metadata) const;
  /// Restores every persistent tensor from a checkpoint holding exactly this
  /// executable's persistent tensors with their types; returns its metadata.
  /// Everything is checked before anything changes: on error the state is as it was.
  std::map<std::string, std::string> load_checkpoint(const std::string& path);
  /// Loads weights only: every trainable parameter must be in the file;
  /// optimizer state is restored when present; other tensors are ignored.
  /// For running a model on weights trained by a differently compiled one.
  std::map<std::string, std::string> load_weights(const std::string& path);

 private:
  std::map<std::string, std::string> restore(const std::string& path, bool strict);
  void run_verified(const std::string& name, const std::map<std::string, HostTensor>& inputs,
                    std::map<std::string, HostTensor>* outputs);

  proto::Executable exe_;
  std::string source_;
  /// The executor; throws when the session was opened only to inspect.
  Executor& executor() const;

  std::unique_ptr<Executor> executor_;  // null for Purpose::inspect
  std::vector<TensorInfo> inputs_, outputs_, params_;
  std::vector<EntryInfo> entries_;
  double fusion_tolerance_ = 0;  // 0: not verifying
  bool last_run_was_bound_ = false;  // last_kernel_span_ms()
  std::set<std::string> fusion_verified_;
  std::vector<std::string> fusion_reports_;
};

}  // namespace dlc
