// Limits on the size of one fused kernel's scalar expression.
//
// Fusion inlines element-wise producers into their consumers, so without a
// bound one kernel's expression is as deep as the longest element-wise chain
// of the graph: every walker over it (loop building, the LLVM and CUDA
// emitters, printing, checking) then recurses once per level and overflows
// the stack, and LLVM / NVRTC get one function as large as the graph, which
// costs them superlinear time and memory. Production fusers bound a fusion
// the same way (XLA's fusion size limits, TVM's max_depth of a fused group).
//
// The planner stores an intermediate value (a kernel root) where inlining
// would pass a limit, and merging refuses to join roots into one kernel
// whose expressions would pass them. The limits are far above what any
// shipped model's kernel reaches, so their kernel counts do not change.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "compiler/fusion.h"
#include "compiler/loop_builder.h"

namespace dlc {

/// Longest chain of scalar expression nodes in one kernel (view remaps
/// count one each at graph level, so loop building's walk is bounded too).
constexpr int kMaxFusedDepth = 256;
/// Op units of one kernel's expressions (own_cost; at least 1 per node).
/// Before merging, inlined values are counted once per use, an upper bound.
constexpr int64_t kMaxFusedOps = 4096;

/// Walks the live nodes once in topological order and calls
/// `store(value, reason)` for inlined values whose consumers would otherwise
/// inline an expression past the limits (the deepest operands first). Linear
/// in the graph: each value's depth and size come from its operands'.
void bound_fused_expressions(const FusionPlan& plan,
                             const std::function<void(const std::string&, const std::string&)>& store);

/// True when the kernel's expressions stay within the limits; `why` gets
/// the reason when not.
bool within_fusion_limits(const SymKernel& k, std::string* why = nullptr);

}  // namespace dlc
