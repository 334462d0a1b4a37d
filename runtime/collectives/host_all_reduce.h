// An AllReduceStep (kernel/kernel_ir.h) over buffers in host memory: the
// cpu executor's. The step's sources are packed into one bucket per dtype,
// so a data-parallel step makes one collective call whatever its parameter
// count, then the means are unpacked into the destinations.
#pragma once

#include <vector>

#include "kernel/kernel_ir.h"
#include "runtime/collectives/process_group.h"

namespace dlc {

class HostAllReduce {
 public:
  /// `pointers[b]` is the address of buffer b of `p`.
  void run(const Program& p, const AllReduceStep& step, void* const* pointers, ProcessGroup& group);

 private:
  std::vector<float> f32_;
  std::vector<double> f64_;
};

}  // namespace dlc
