#include "compiler/passes/bind_batch.h"

#include "ir/error.h"
#include "ir/verifier.h"

namespace dlc {
namespace {

bool bind_dims(std::vector<int64_t>& dims, int64_t batch) {
  bool changed = false;
  for (auto& d : dims)
    if (d == kBatch) {
      d = batch;
      changed = true;
    }
  return changed;
}

}  // namespace

bool BindBatchPass::run(Model& m) {
  if (batch_ < 1) throw Error("--batch must be at least 1, got " + std::to_string(batch_));
  bool changed = false;
  for (auto& in : m.graph.inputs) changed |= bind_dims(in.type.dims, batch_);
  for (auto& n : m.graph.nodes)
    for (const char* key : {"dims"}) {
      auto it = n.attrs.find(key);
      if (it == n.attrs.end() || it->second.value_case() != proto::AttrValue::kInts) continue;
      std::vector<int64_t> dims(it->second.ints().values().begin(), it->second.ints().values().end());
      if (bind_dims(dims, batch_)) {
        it->second = attr_ints(dims);
        changed = true;
      }
    }
  verify_or_throw(m);
  return changed;
}

}  // namespace dlc
