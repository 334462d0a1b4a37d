// bind_batch: replaces the symbolic batch dimension (-1) by a number.
#pragma once

#include "compiler/pass.h"

namespace dlc {

/// Rewrites every -1 dimension of the graph inputs and of `reshape`,
/// `broadcast_to` and `constant` dims attributes to `batch`, then re-infers
/// types. Returns true when anything was bound.
class BindBatchPass : public Pass {
 public:
  explicit BindBatchPass(int64_t batch) : batch_(batch) {}
  std::string name() const override { return "bind_batch"; }
  bool run(Model& m) override;

 private:
  int64_t batch_;
};

}  // namespace dlc
