// Fusion verification (`dlrun ... --verify-fusion`): runs one entry point of
// a kernel-program executor step by step and compares every graph value each
// step stores with the reference interpreter's evaluation of that step, so a
// wrong fusion, index map or memory plan is pinned to the first kernel that
// computes a wrong number, with its ops and its worst element.
#pragma once

#include <map>
#include <string>

#include "ir/graph.h"
#include "ir/op_registry.h"
#include "runtime/cpu_executor.h"
#include "runtime/executor.h"

namespace dlc {

struct FusionVerification {
  std::string entry;
  int steps = 0;            ///< steps of the program that ran
  int values_compared = 0;  ///< graph values compared after their step
  int values_skipped = 0;   ///< values a later write of the same step overwrote
  double worst_error = 0;   ///< worst error over all compared elements (see element_error)
  std::string worst_value;  ///< the graph value where it occurred
  bool diverged = false;    ///< some element's error exceeded the tolerance
  /// One line on success; on divergence, the first diverging step: its
  /// index, kind, graph nodes, the value, the worst element's index, and
  /// the values both sides computed.
  std::string report;
};

/// |got - want| / max(|want|, 1): relative for large values, absolute near
/// zero. A NaN or infinity on either side that the other lacks is +inf.
double element_error(double got, double want);

/// Runs `entry` once on `executor` with `inputs`, observing every step, and
/// compares the values each step stores (Step::values) with the reference
/// interpreter on `graph`, fed `inputs`, the executor's persistent state as
/// it was before the run, and the values the earlier steps stored: each
/// step is checked on its own inputs, so float32 rounding upstream cannot
/// make a correct kernel look wrong (a max-pooling window whose maxima tie
/// in float32 but not in float64). The run is a real one: the state advances and
/// `outputs` receives the entry's outputs, as Executor::run would give.
/// `ctx` carries the seed and step for random ops (training is the program's).
FusionVerification verify_fusion(ObservableExecutor& executor, const Graph& graph, const std::string& entry,
                                 const std::map<std::string, HostTensor>& inputs, EvalContext ctx, double tolerance,
                                 std::map<std::string, HostTensor>* outputs);

}  // namespace dlc
