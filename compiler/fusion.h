// Fusion: which graph values are stored to memory, and which stored values
// one loop kernel computes together.
//
// The decisions, each with its reason in FusionPlan::explain:
// - Element-wise ops (FusionClass::elementwise), uniform `constant` fills,
//   one_hot (a comparison with the loop index) and the index remaps
//   transpose / broadcast_to / reshape are INLINED into the kernels that
//   consume them: a value is computed inside its consumer's loop instead of
//   being stored.
// - A value is STORED (a kernel root) when something outside a loop needs it
//   in memory: an entry output or state update, an operand of a GEMM, row
//   kernel or reference call whose view of it is not a plain buffer layout,
//   the result of a reduction, or the input of a reshape that is not a
//   plain relabeling of contiguous data.
// - Cost rule for the rest: a value consumed by exactly one kernel whose
//   loop visits each of its elements once is always inlined. A value used
//   by several kernels, or broadcast into a larger loop, is recomputed in
//   each when it is cheap (at most kRecomputeMaxOps op units, counting all
//   it drags in, and no exp/log/log1p/tanh/pow), or when the recomputed work
//   (extra element visits x op units, a transcendental op counting 8) stays
//   within kRecomputeBudget, less than what an extra kernel and a round
//   trip through memory cost. Otherwise it is stored once by its own kernel
//   and loaded by the others: Adam's bias correction 1 - beta^step, a
//   scalar with pow broadcast over a large parameter, is the typical case.
// - Element-wise producers fuse into a reduction's loop; element-wise
//   consumers of its result over its kept dims join it as an epilogue (a
//   bias gradient and that bias's whole update are one kernel).
// - Roots with the same iteration space that share a loaded buffer or feed
//   one another element for element are merged into one multi-output kernel
//   (an optimizer's update of one parameter stores the parameter and each
//   state in one kernel), when merging creates no cycle between kernels.
// - matmul is a library call; a loop kernel reading its output element for
//   element (bias + activation) becomes the GEMM's epilogue.
// - softmax / log_softmax over the last axis and softmax_cross_entropy are
//   row kernels; (softmax(x) - one_hot(labels)) * s, the cross-entropy
//   gradient, is one row kernel.
// - Everything else (argmax, dropout in training, other losses) is a
//   reference call to the op's float64 kernel.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"

namespace dlc {

/// What one entry point computes.
struct EntrySpec {
  std::string name;                  // "train_step" or "predict"
  std::vector<std::string> outputs;  // graph values returned
  /// Persistent state := value after the step (Model::updates).
  std::vector<std::pair<std::string, std::string>> updates;
  bool training = false;  // dropout active
};

/// How lowering treats a node.
enum class NodeKind {
  elementwise,  // scalar expression, inlined
  fill,         // constant `value`: a scalar expression, inlined
  data,         // constant `values`: a constant buffer
  one_hot,      // equal(label, loop index), inlined
  view,         // transpose / broadcast_to: index remap, inlined
  reshape,      // same flat order, new dims
  identity,     // dropout outside training
  reduction,    // reduce_sum / reduce_mean / reduce_max: a kernel root
  gemm,         // matmul (f32): library call
  row,          // softmax / log_softmax (last axis), softmax_cross_entropy (f32)
  ref,          // reference call
};

const char* node_kind_name(NodeKind k);

/// A softmax cross-entropy gradient (softmax(x) - one_hot(labels)) * scale
/// recognized as one row kernel: the mul node's output, from these parts.
struct XentGradPattern {
  int mul = -1, sub = -1, softmax = -1, one_hot = -1;  // node indices
  std::string x, labels, scale;                        // values
};

/// A loop kernel: the stored values it computes (all with the same loop).
/// In a reduction kernel roots[0] is the reduction and further roots are
/// element-wise values over its kept dims computed from its result.
struct Cluster {
  std::vector<std::string> roots;
  bool reduction = false;
  int gemm = -1;  // when this cluster is a GEMM's epilogue: the matmul node
};

/// The analysis and every decision fusion made for one entry point.
struct FusionPlan {
  const Graph* graph = nullptr;
  EntrySpec entry;
  std::vector<NodeKind> kind;            // per node
  std::vector<bool> live;                // per node: needed by the entry
  std::map<std::string, int> producer;   // value -> node index (not for inputs/params)
  std::map<std::string, std::vector<int>> consumers;  // value -> live consumer nodes
  /// Values computed by a loop kernel and stored (kernel roots).
  std::set<std::string> stored;
  std::vector<Cluster> clusters;
  std::vector<XentGradPattern> xent_grads;
  std::vector<std::string> explain;

  bool is_source(const std::string& v) const { return producer.count(v) == 0; }
  /// True when `v` lives in memory: a source, a stored root, a constant's
  /// data, or the output of a GEMM, row kernel or reference call.
  bool in_memory(const std::string& v) const;
  /// True when the producer of `v` is inlined into loops (when not stored).
  bool loopable(const std::string& v) const;
  /// Index of the cluster storing `v`, or -1.
  int cluster_of(const std::string& v) const;
  /// The xent-gradient pattern whose result is `v`, or -1.
  int xent_grad_of(const std::string& v) const;
};

/// Cost rule limits (op units; see above).
constexpr int kRecomputeMaxOps = 4;
constexpr int64_t kRecomputeBudget = 4096;

/// Plans fusion for `e` over a verified, batch-bound graph. Throws
/// dlc::Error when an entry output or update names an unknown value.
FusionPlan plan_fusion(const Graph& g, const EntrySpec& e);

}  // namespace dlc
