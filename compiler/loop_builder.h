// Builds the body of one loop kernel from the graph, before buffers exist.
//
// Starting from the kernel's roots, it walks producers: a value in memory
// becomes a load; an inlined value becomes its scalar expression over its
// inputs, each seen through an index map (which loop dim each of the
// value's dims follows). Broadcasting, transpose and broadcast_to only
// change those maps, so they cost nothing in the kernel.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "compiler/fusion.h"
#include "ir/op_registry.h"
#include "kernel/kernel_ir.h"

namespace dlc {

/// An index map: for each dim of a value, the loop dim it follows, or -1
/// for index 0 (a broadcast size-1 dim).
using DimMap = std::vector<int>;

/// A load before buffers are assigned.
struct SymLoad {
  std::string value;               // a value in memory; "" for an iota or a mask
  std::vector<int64_t> view_dims;  // dims `value`'s dense data (a mask's flat index) is indexed with
  DimMap dim_of;                   // per view dim
  int iota_dim = -1;               // >= 0: yields the loop index of this dim
  std::optional<DropoutMask> mask; // set: yields the keep bit (Access::mask)
  /// A gather (an inlined extract_patches): when not empty, dim_of is unused
  /// and view dim j is read at coordinate coords[j] (coefs over the loop
  /// dims); where one leaves [0, view_dims[j]) the load yields `pad`.
  std::vector<WindowCoord> coords;
  double pad = 0;
  bool operator==(const SymLoad& o) const = default;
  bool reads_memory() const { return iota_dim < 0 && !mask; }
};

/// A root stored by a kernel: `value` written through `dim_of` (per dim of
/// the value; -1 for size-1 dims of a keepdims reduction).
struct SymStore {
  std::string value;
  DimMap dim_of;
  SExpr expr;
  bool per_element = false;  // see Store::per_element
};

/// A loop kernel over graph values (see LoopKernel for the semantics).
/// A reduction kernel computes one or more reductions over the same row
/// space (the same kept and reduced dims), in order: a later one may use
/// an earlier one's result (softmax: max, then the sum of exp(x - max)).
struct SymKernel {
  std::vector<int64_t> dims;
  int reduce_dims = 0;
  std::vector<Reduction> reductions;
  std::vector<SymLoad> loads;
  std::vector<SymStore> stores;
  std::vector<int> nodes;  // graph nodes computed here, ascending

  /// Values loaded (memory values only, no iotas or masks), without repeats.
  std::vector<std::string> loaded_values() const;
};

/// Builds the kernel storing `cluster`'s roots under `plan`'s decisions.
/// Returns nullopt, with the reason in `*why`, when the roots cannot share
/// one loop: different iteration spaces, or one root read by another at a
/// different element (it would be loaded while being written).
std::optional<SymKernel> build_loop(const FusionPlan& plan, const Cluster& cluster, std::string* why);

/// The loop of a single root: its dims, or for a reduction its kept dims
/// followed by its reduced dims. Two reductions with the same loop and the
/// same number of reduced dims share a row space.
std::vector<int64_t> loop_dims_of(const FusionPlan& plan, const std::string& root);

/// Op units a value costs when recomputed: one per node of its own scalar
/// expression, 8 for exp, log, log1p, tanh and pow (which set `expensive`);
/// 0 for index remaps and fills.
int own_cost(const FusionPlan& plan, const std::string& value, bool* expensive);

/// The identity map of rank r.
DimMap identity_map(size_t r);

/// The element strides of a (non-iota) load over a loop of rank `rank`;
/// for a mask, those of its flat index.
std::vector<int64_t> load_strides(const SymLoad& l, size_t rank);

/// True when the load reads its value's dense data in the order of the
/// kernel's outer loop, element i at outer iteration i, and never moves
/// along a reduced dim: the kernel may then overwrite it in place, and a
/// GEMM's result read this way can feed an epilogue. Dims of size 1 are
/// ignored, so [32,1] read over a [32] loop counts.
bool reads_in_loop_order(const SymLoad& l, const SymKernel& k);

}  // namespace dlc
