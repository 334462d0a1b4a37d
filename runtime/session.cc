#include "runtime/session.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "ir/label_dependence.h"
#include "kernel/executable.h"
#include "runtime/collectives/process_group.h"
#include "runtime/cpu_executor.h"
#include "runtime/fusion_verifier.h"
#include "runtime/safetensors.h"

namespace dlc {
namespace {

std::string bytes_of(const TensorType& t) { return std::to_string(t.numel() * dtype_size(t.dtype)); }

/// Checks `value` against the declared type `want` (dtype and element
/// count), then gives it `want`'s dims; an ArgumentError names `what`.
void conform(HostTensor& value, const TensorType& want, const std::string& what) {
  if (value.type.dtype != want.dtype)
    throw ArgumentError(what + " is " + want.str() + ", but a " + dtype_name(value.type.dtype) + " buffer was given");
  if (value.numel() != want.numel())
    throw ArgumentError(what + " is " + want.str() + " (" + std::to_string(want.numel()) + " elements), but " +
                        std::to_string(value.numel()) + " elements were given");
  if (value.bytes.size() != static_cast<size_t>(want.numel() * dtype_size(want.dtype)))
    throw ArgumentError(what + ": buffer of " + std::to_string(value.bytes.size()) + " bytes, expected " + bytes_of(want));
  value.type = want;
}

}  // namespace

std::unique_ptr<Session> Session::open(const std::string& path, Purpose purpose) {
  return std::make_unique<Session>(load_executable(path), path, purpose);
}

Session::Session(proto::Executable exe, std::string source, Purpose purpose)
    : exe_(std::move(exe)), source_(std::move(source)) {
  Graph g = executable_graph(exe_, source_);
  std::map<std::string, TensorInfo> by_name;
  for (const auto& i : g.inputs) {
    TensorInfo info{i.name, i.type, true, i.role, false};
    inputs_.push_back(info);
    by_name[i.name] = info;
  }
  for (const auto& p : g.params) {
    TensorInfo info{p.name, p.type, false, proto::DATA, !p.frozen, p.optimizer_state};
    params_.push_back(info);
    by_name[p.name] = info;
  }
  auto value_info = [&](const std::string& v) {
    auto it = by_name.find(v);
    return it != by_name.end() ? it->second : TensorInfo{v, g.type_of(v), false, proto::DATA, false};
  };
  for (const auto& o : g.outputs) outputs_.push_back(value_info(o));
  for (const auto& e : exe_.entry_points()) {
    EntryInfo info;
    info.name = e.name();
    for (const auto& in : e.inputs()) info.inputs.push_back(value_info(in));
    for (const auto& out : e.outputs()) info.outputs.push_back(value_info(out));
    for (const auto& u : e.updates()) info.updated.push_back(u.param());
    entries_.push_back(std::move(info));
  }
  if (purpose == Purpose::run) {
    try {
      executor_ = make_executor(exe_);
    } catch (const ArgumentError&) {
      throw;
    } catch (const Error& e) {
      throw Error(source_ + ": " + e.what());  // which file cannot run here
    }
  }
}

Executor& Session::executor() const {
  if (!executor_) throw Error(source_ + " was opened to inspect it only; load it to run it or touch its weights");
  return *executor_;
}

const EntryInfo& Session::entry(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return e;
  std::string have;
  for (const auto& e : entries_) have += (have.empty() ? "" : ", ") + e.name;
  throw ArgumentError(source_ + " has no entry point '" + name + "' (it has: " + have + ")");
}

std::string Session::missing_output_message(const std::string& entry_name, const std::string& name) const {
  const EntryInfo& e = entry(entry_name);
  std::string have, computed_by;
  for (const auto& o : e.outputs) have += (have.empty() ? "" : ", ") + o.name;
  for (const auto& other : entries_)
    for (const auto& o : other.outputs)
      if (o.name == name) computed_by += (computed_by.empty() ? "'" : ", '") + other.name + "'";
  std::string message = "entry point '" + entry_name + "' has no output '" + name + "'";
  if (!computed_by.empty()) {
    // The compiler leaves an output out of predict when it needs labels;
    // say so, since the output is in the model and the caller asked for it.
    std::vector<std::string> labels = label_inputs_needed(graph_from_proto(exe_.graph()), name);
    bool fed_labels = true;
    for (const auto& l : labels)
      fed_labels = fed_labels &&
                   std::any_of(e.inputs.begin(), e.inputs.end(), [&](const TensorInfo& in) { return in.name == l; });
    if (!labels.empty() && !fed_labels)
      message += ": it " + describe_label_need(labels) + ", which '" + entry_name + "' does not take; " + computed_by +
                 " computes it";
    else
      message += "; " + computed_by + " computes it";
  }
  return message + " (its outputs: " + (have.empty() ? "none" : have) + ")";
}

const TensorInfo& Session::param(const std::string& name) const {
  for (const auto& p : params_)
    if (p.name == name) return p;
  throw ArgumentError(source_ + " has no parameter or persistent tensor '" + name + "'");
}

int64_t Session::peak_memory_bytes() const {
  int64_t peak = -1;
  for (const auto& p : exe_.programs()) peak = std::max(peak, p.arena_bytes());
  return peak;
}

void Session::run(const std::string& name, std::map<std::string, HostTensor> inputs,
                  std::map<std::string, HostTensor>* outputs) {
  const EntryInfo& e = entry(name);
  for (auto& [in_name, value] : inputs) {
    auto it = std::find_if(e.inputs.begin(), e.inputs.end(), [&](const TensorInfo& i) { return i.name == in_name; });
    if (it == e.inputs.end()) {
      std::string have;
      for (const auto& i : e.inputs) have += (have.empty() ? "" : ", ") + i.name;
      throw ArgumentError("entry point '" + name + "' has no input '" + in_name + "' (its inputs: " + have + ")");
    }
    conform(value, it->type, "input '" + in_name + "' of '" + name + "'");
  }
  for (const auto& i : e.inputs)
    if (!inputs.count(i.name))
      throw ArgumentError("entry point '" + name + "' needs input '" + i.name + "' " + i.type.str() + ", not given");
  std::map<std::string, HostTensor> result;
  if (fusion_tolerance_ > 0 && fusion_verified_.insert(name).second) {
    run_verified(name, inputs, &result);
  } else {
    executor().run(name, inputs, &result);
  }
  if (outputs) *outputs = std::move(result);
}

void Session::run_bound(const std::string& name, const void* const* inputs, void* const* outputs) {
  const EntryInfo& e = entry(name);
  // Kernels load elements at their natural alignment.
  auto aligned = [](const void* p, const TensorInfo& t) {
    return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(dtype_size(t.type.dtype)) == 0;
  };
  bool all_aligned = true;
  for (size_t i = 0; i < e.inputs.size(); ++i) all_aligned = all_aligned && aligned(inputs[i], e.inputs[i]);
  for (size_t j = 0; j < e.outputs.size(); ++j) all_aligned = all_aligned && aligned(outputs[j], e.outputs[j]);
  const bool verifying = fusion_tolerance_ > 0 && !fusion_verified_.count(name);
  last_run_was_bound_ = all_aligned && !verifying && executor().run_bound(name, inputs, outputs);
  if (last_run_was_bound_) return;
  std::map<std::string, HostTensor> feeds, results;
  for (size_t i = 0; i < e.inputs.size(); ++i) {
    const TensorType& t = e.inputs[i].type;
    feeds[e.inputs[i].name] = t.numel() > 0 ? HostTensor::copy_of(t, inputs[i]) : HostTensor(t);
  }
  run(name, std::move(feeds), &results);
  for (size_t j = 0; j < e.outputs.size(); ++j) {
    const HostTensor& r = results.at(e.outputs[j].name);
    if (outputs[j] && !r.bytes.empty()) std::memcpy(outputs[j], r.bytes.data(), r.bytes.size());
  }
}

double Session::last_kernel_span_ms() const {
  auto* observable = dynamic_cast<const ObservableExecutor*>(&executor());
  return last_run_was_bound_ && observable ? observable->last_kernel_span_ms() : -1;
}

void Session::verify_fusion(double tolerance) {
  if (!(tolerance > 0) || !std::isfinite(tolerance))
    throw ArgumentError("the fusion tolerance must be a positive number, not " + std::to_string(tolerance));
  if (!dynamic_cast<ObservableExecutor*>(&executor()))
    throw ArgumentError(source_ + " is compiled for target '" + exe_.target() +
                        "', which runs no kernels; verifying fusion needs a kernel target (cpu or cuda)");
  fusion_tolerance_ = tolerance;
}

void Session::run_verified(const std::string& name, const std::map<std::string, HostTensor>& inputs,
                           std::map<std::string, HostTensor>* outputs) {
  Graph graph = executable_graph(exe_, source_);
  EvalContext ctx;
  ctx.seed = exe_.seed();
  if (exe_.data_parallel()) {
    // The reference averages over the processes too, and draws this
    // process's dropout masks, as the executors do.
    ProcessGroup& group = ProcessGroup::get();
    ctx.seed = process_seed(exe_.seed(), group.rank());
    if (group.size() > 1)
      ctx.all_reduce_mean = [&group](double* data, int64_t n) { group.all_reduce_mean(data, n); };
  }
  for (const auto& [in_name, value] : inputs) {
    const Input* decl = graph.find_input(in_name);
    if (decl && decl->role == proto::STEP && value.numel() == 1) {
      double step = value.get(0);  // as the executors read it
      ctx.step = std::isfinite(step) && step > 0 ? static_cast<uint64_t>(step) : 0;
    }
  }
  auto* observable = dynamic_cast<ObservableExecutor*>(&executor());
  FusionVerification v = dlc::verify_fusion(*observable, graph, name, inputs, ctx, fusion_tolerance_, outputs);
  fusion_reports_.push_back(v.report);
  if (v.diverged) throw Error(source_ + ": " + v.report);
}

HostTensor Session::get_param(const std::string& name) const {
  param(name);
  return executor().get_state(name);
}

void Session::set_param(const std::string& name, const HostTensor& value) {
  const TensorInfo& p = param(name);
  HostTensor shaped = value;
  conform(shaped, p.type, "parameter '" + name + "'");
  executor().set_state(name, shaped);
}

void Session::save_checkpoint(const std::string& path, const std::map<std::string, std::string>& metadata) const {
  Checkpoint c;
  c.metadata = metadata;
  for (const auto& p : params_) c.tensors[p.name] = executor().get_state(p.name);
  dlc::save_checkpoint(path, c);
}

void Session::save_weights(const std::string& path, const std::map<std::string, std::string>& metadata) const {
  Checkpoint c;
  c.metadata = metadata;
  for (const auto& p : params_)
    if (!p.optimizer_state) c.tensors[p.name] = executor().get_state(p.name);
  dlc::save_checkpoint(path, c);
}

std::map<std::string, std::string> Session::load_checkpoint(const std::string& path) { return restore(path, true); }

std::map<std::string, std::string> Session::load_weights(const std::string& path) { return restore(path, false); }

std::map<std::string, std::string> Session::restore(const std::string& path, bool strict) {
  Checkpoint c = dlc::load_checkpoint(path);
  std::vector<std::pair<std::string, const HostTensor*>> plan;
  for (const auto& p : params_) {
    auto it = c.tensors.find(p.name);
    if (it == c.tensors.end()) {
      if (strict || p.trainable)
        throw Error(path + ": checkpoint lacks " + std::string(p.trainable ? "parameter" : "persistent tensor") + " '" +
                    p.name + "' " + p.type.str() + " of " + source_);
      continue;
    }
    if (it->second.type != p.type)
      throw Error(path + ": '" + p.name + "' is " + it->second.type.str() + " in the checkpoint, but " + p.type.str() +
                  " in " + source_);
    plan.emplace_back(p.name, &it->second);
  }
  if (strict)
    for (const auto& [name, t] : c.tensors)
      if (std::none_of(params_.begin(), params_.end(), [&](const TensorInfo& p) { return p.name == name; }))
        throw Error(path + ": checkpoint holds '" + name + "', which " + source_ + " does not have");
  for (const auto& [name, t] : plan) executor().set_state(name, *t);
  return c.metadata;
}

}  // namespace dlc
