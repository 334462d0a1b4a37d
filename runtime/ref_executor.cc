#include "runtime/ref_executor.h"

#include <cmath>

#include "ir/error.h"
#include "kernel/executable.h"
#include "reference/ref_interpreter.h"
#include "runtime/collectives/process_group.h"

namespace dlc {

Tensor to_tensor(const HostTensor& h) {
  Tensor t(h.type);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = h.get(i);
  return t;
}

HostTensor to_host(const Tensor& t) {
  HostTensor h(t.type);
  for (int64_t i = 0; i < t.numel(); ++i) h.set(i, t[i]);
  return h;
}

void round_to_storage(Tensor& t) {
  if (t.type.dtype == DType::f32)
    for (double& v : t.data) v = static_cast<double>(static_cast<float>(v));
  else
    round_to_dtype(t);
}

RefExecutor::RefExecutor(const proto::Executable& exe) : graph_(executable_graph(exe)), seed_(exe.seed()) {
  for (const auto& e : exe.entry_points()) entries_[e.name()] = e;
  for (const auto& p : exe.initial_params()) {
    HostTensor h(from_proto(p.type()));
    if (p.data().size() != h.bytes.size())
      throw Error("initial value of '" + p.name() + "' has the wrong size");  // validated at load
    std::copy(p.data().begin(), p.data().end(), h.bytes.begin());
    feeds_[p.name()] = to_tensor(h);
  }
  for (const auto& p : graph_.params)
    if (!feeds_.count(p.name)) throw Error("parameter '" + p.name + "' has no initial value");
  if (exe.data_parallel()) {
    group_ = &ProcessGroup::get();
    seed_ = process_seed(exe.seed(), group_->rank());
  }
}

void RefExecutor::run(const std::string& entry, const std::map<std::string, HostTensor>& inputs,
                      std::map<std::string, HostTensor>* outputs) {
  auto it = entries_.find(entry);
  if (it == entries_.end()) throw Error("the executable has no entry point '" + entry + "'");
  const proto::EntryPoint& ep = it->second;

  EvalContext ctx;
  ctx.training = entry == "train_step";
  ctx.seed = seed_;
  if (group_ && group_->size() > 1)
    ctx.all_reduce_mean = [group = group_](double* data, int64_t n) { group->all_reduce_mean(data, n); };
  for (const auto& name : ep.inputs()) {
    auto in = inputs.find(name);
    if (in == inputs.end()) throw Error("entry point '" + entry + "' needs input '" + name + "'");
    const Input* decl = graph_.find_input(name);
    if (decl && decl->role == proto::STEP && in->second.numel() == 1) {
      double step = in->second.get(0);
      ctx.step = std::isfinite(step) && step > 0 ? static_cast<uint64_t>(step) : 0;
    }
  }

  std::vector<std::string> wanted(ep.outputs().begin(), ep.outputs().end());
  for (const auto& u : ep.updates()) wanted.push_back(u.value());

  // Inputs join the persistent feeds for this run only; they are removed
  // however the run ends, so a failed run leaves the state as it was.
  std::vector<std::string> added;
  std::map<std::string, Tensor> results;
  try {
    for (const auto& name : ep.inputs()) {
      feeds_[name] = to_tensor(inputs.at(name));
      added.push_back(name);
    }
    results = RefInterpreter(graph_).run(feeds_, wanted, ctx);
  } catch (...) {
    for (const auto& name : added) feeds_.erase(name);
    throw;
  }
  for (const auto& name : added) feeds_.erase(name);

  if (outputs) {
    outputs->clear();
    for (const auto& name : ep.outputs()) {
      Tensor& t = results.at(name);
      t.type = graph_.type_of(name);
      (*outputs)[name] = to_host(t);
    }
  }
  // Updates apply together after everything is computed: an update value
  // may read a parameter that another update replaces.
  for (const auto& u : ep.updates()) {
    Tensor t = results.at(u.value());
    t.type = graph_.type_of(u.param());
    round_to_storage(t);
    feeds_[u.param()] = std::move(t);
  }
}

HostTensor RefExecutor::get_state(const std::string& name) const {
  if (!graph_.find_param(name)) throw Error("'" + name + "' is not a persistent tensor of the executable");
  return to_host(feeds_.at(name));
}

void RefExecutor::set_state(const std::string& name, const HostTensor& value) {
  const Parameter* p = graph_.find_param(name);
  if (!p) throw Error("'" + name + "' is not a persistent tensor of the executable");
  if (value.type != p->type)
    throw Error("'" + name + "' is " + p->type.str() + ", cannot set it from " + value.type.str());
  if (value.bytes.size() != static_cast<size_t>(p->type.numel() * dtype_size(p->type.dtype)))
    throw Error("'" + name + "': the buffer holds " + std::to_string(value.bytes.size()) + " bytes, expected " +
                std::to_string(p->type.numel() * dtype_size(p->type.dtype)));
  feeds_[name] = to_tensor(value);
}

}  // namespace dlc
