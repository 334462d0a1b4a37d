// Fusion: which graph values are stored to memory, and which stored values
// one loop kernel computes together.
//
// The decisions, each with its reason in FusionPlan::explain. Every node is
// classified by its op's registry Lowering, never by its name:
// - Element-wise ops, uniform `constant` fills, iota (a loop index) and the
//   index maps (transpose, broadcast_to, stop_gradient) are INLINED into
//   the kernels that consume them: a value is computed inside its
//   consumer's loop instead of being stored.
// - A value is STORED (a kernel root) when something outside a loop needs it
//   in memory: an entry output or state update, an operand of a GEMM
//   whose view of it is not a plain buffer layout, the
//   result of a reduction, or the input of a reshape that is not a plain
//   relabeling of contiguous data.
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
// - Element-wise producers fuse into a reduction's loop. Reductions over the
//   same row space (same kept and reduced dims) that read one another's
//   results or the same data join one ROW KERNEL, computed one after
//   another per row; element-wise consumers of their results join it too,
//   over the kept dims (row stores: a bias gradient's update) or over the
//   whole row (per-element stores). Softmax, log-softmax, cross-entropy and
//   its gradient are each one row kernel made of primitives this way.
// - Roots with the same iteration space that share a loaded buffer or feed
//   one another element for element are merged into one multi-output kernel
//   (an optimizer's update of one parameter stores the parameter and each
//   state in one kernel), when merging creates no cycle between kernels.
// - matmul is a library call; a loop kernel reading its output element for
//   element (bias + activation) becomes the GEMM's epilogue.
// - A convolution pass is a library call too (oneDNN on cpu): its operands
//   are stored unless they already lie in memory densely, in order, and its
//   result is stored for its consumers (the bias + activation loop reads it).
// - A window op (the patches of a convolution, their sum back) is its own
//   loop kernels: it reads its input through guarded affine indices from
//   memory (any strided view of a buffer), so its producer is stored, and
//   its result is stored for its consumers.
// - Dropout in training is inlined like an element-wise op: x * keep / (1 -
//   rate), the keep bit a mask load (LoopKernel, Access::mask) drawn from
//   the element's flat index, so it fuses with its neighbours.
// - A collective (all_reduce_mean, inserted by --data-parallel) reads its
//   input from memory, so its producer is stored, and its result lives in
//   memory; all of an entry point's collectives are one step (a bucket), so
//   the optimizer's update kernels, which read the averaged gradients, run
//   after it and cannot fuse with the gradients' own kernels.
// - A training switch (if_training: batch_norm's batch or running form) is
//   resolved before planning: each entry is planned over its own copy of the
//   graph where the switch is the identity of the form it reads
//   (compiler/training_switch.h), so the other form is dead there. No node runs
//   through the reference interpreter: one that cannot be lowered is a
//   compile error naming it.
#pragma once

#include <map>
#include <memory>
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

/// How lowering treats a node (from its op's Lowering and the entry point).
enum class NodeKind {
  elementwise,  // scalar expression, inlined
  fill,         // constant `value`: a scalar expression, inlined
  data,         // constant `values`: a constant buffer
  iota,         // the loop index along an axis, inlined
  view,         // an index map (transpose, broadcast_to, stop_gradient), inlined
  reshape,      // same flat order, new dims
  identity,     // a random op outside training
  reduction,    // a reduction: the root of a (row) kernel
  gemm,         // matmul (f32): library call
  window,       // window loops (fold_patches): kernels of their own over memory
  gather,       // a window op whose element is one guarded load of its input (extract_patches): inlined
  random,       // a random op in training: an element-wise expression over a mask load, inlined
  collective,   // all_reduce_mean: every one of an entry is one bucket step, reading memory
  convolution,  // a convolution pass (conv2d_forward, ...): library call over dense buffers
};

const char* node_kind_name(NodeKind k);

/// A loop kernel: the stored values it computes (all with the same loop).
/// In a reduction kernel roots[0] is a reduction; further roots are
/// reductions over the same row space and element-wise values over its
/// kept dims or its whole rows, computed from their results.
struct Cluster {
  std::vector<std::string> roots;
  bool reduction = false;
  int gemm = -1;  // when this cluster is a GEMM's epilogue: the matmul node
};

/// The analysis and every decision fusion made for one entry point.
struct FusionPlan {
  const Graph* graph = nullptr;
  /// The entry's own copy of the graph when it had training switches
  /// (compiler/training_switch.h); `graph` points to it.
  std::shared_ptr<const Graph> own_graph;
  EntrySpec entry;
  std::vector<NodeKind> kind;            // per node
  std::vector<bool> live;                // per node: needed by the entry
  std::map<std::string, int> producer;   // value -> node index (not for inputs/params)
  std::map<std::string, std::vector<int>> consumers;  // value -> live consumer nodes
  /// Values computed by a loop kernel and stored (kernel roots).
  std::set<std::string> stored;
  std::vector<Cluster> clusters;
  std::vector<std::string> explain;

  bool is_source(const std::string& v) const { return producer.count(v) == 0; }
  /// True when `v` lives in memory: a source, a stored root, a constant's
  /// data, or the output of a GEMM.
  bool in_memory(const std::string& v) const;
  /// True when the producer of `v` is inlined into loops (when not stored).
  bool loopable(const std::string& v) const;
  /// Index of the cluster storing `v`, or -1.
  int cluster_of(const std::string& v) const;
};

/// Cost rule limits (op units; see above).
constexpr int kRecomputeMaxOps = 4;
constexpr int64_t kRecomputeBudget = 4096;

/// Plans fusion for `e` over a verified, batch-bound graph. Throws
/// dlc::Error when an entry output or update names an unknown value.
FusionPlan plan_fusion(const Graph& g, const EntrySpec& e);

}  // namespace dlc
