// The canonical loop nest of a loop kernel, as the CPU emitter builds it.
//
// Dims of size 1 are dropped and adjacent dims that every access walks
// contiguously are merged, so a dense element-wise kernel of any rank
// becomes one flat loop and a bias add becomes rows × cols. The emitter
// then only sees the loops that matter, and the innermost one is the
// longest unit-stride run LLVM can vectorize.
#pragma once

#include <cstdint>
#include <vector>

#include "kernel/kernel_ir.h"

namespace dlc::cpu {

/// How a reduction kernel orders its loops.
enum class ReduceOrder {
  /// For each output element, the reduced loops run innermost: right when
  /// the reduced dims are contiguous (row sums).
  inner,
  /// Blocks of the innermost output dim are reduced together, one
  /// accumulator per output, the output dim innermost: right when the
  /// reduced dim is strided and the output dim contiguous (column sums,
  /// such as a bias gradient). Each output still combines in reduced order.
  column,
};

struct LoopShape {
  std::vector<int64_t> dims;  // outer (kept) dims first, then the reduced dims
  int reduce_dims = 0;
  /// Strides per access over `dims`, in LoopKernel::loads order. An iota
  /// load gets the weights that turn the index into its original iota index.
  std::vector<std::vector<int64_t>> loads;
  std::vector<std::vector<int64_t>> stores;
  /// Per load, the coefficients of each of its guards over `dims`
  /// (Access::guards; empty for unguarded loads).
  std::vector<std::vector<std::vector<int64_t>>> guards;
  ReduceOrder order = ReduceOrder::inner;

  int outer_dims() const { return static_cast<int>(dims.size()) - reduce_dims; }
  /// The range the thread pool splits: the first outer dim, or 1 when the
  /// kernel has no outer dim (a full reduction runs on one thread).
  int64_t parallel_range() const;
  /// Loop iterations per unit of parallel_range, for sizing chunks.
  int64_t work_per_item() const;
};

/// Whether guard `g` of a load, with `coefs` its coefficients over the
/// canonical `dims`, can fail anywhere in the loop's box; emitters test
/// only those that can.
bool guard_can_fail(const Guard& g, const std::vector<int64_t>& coefs, const std::vector<int64_t>& dims);

/// The canonical shape of `k` (which check_program has accepted).
LoopShape canonical_shape(const LoopKernel& k);

}  // namespace dlc::cpu
