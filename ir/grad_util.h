// Helpers that gradient rules share: undoing broadcasting, expanding reduced
// gradients back to their input's shape, and counting elements.
//
// They emit ordinary graph ops through a GraphBuilder, so the backward graph
// is fused and compiled like the forward one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/builder.h"

namespace dlc {

/// Undoes numpy broadcasting: sums `grad` over the axes along which a value
/// of shape `dims` was broadcast (leading axes it lacks, and its size-1 axes
/// that grew), then reshapes to `dims`. Returns `grad` itself when its shape
/// already is `dims`.
std::string sum_to_shape(GraphBuilder& b, const std::string& grad, const std::vector<int64_t>& dims);

/// The inverse of a reduction's shape change: `grad` has the shape of a
/// reduction of a `dims`-shaped value over `axes` (normalized, ascending);
/// when the reduction dropped the axes (`keepdims` false) they are put back
/// as size 1, then the result is broadcast to `dims`.
std::string expand_from_reduction(GraphBuilder& b, const std::string& grad, const std::vector<int64_t>& dims,
                                  const std::vector<int64_t>& axes, bool keepdims);

/// A scalar of `dtype` holding the number of elements of the `axes` of
/// `dims` (every axis when `axes` is empty). A constant when the dims are
/// static; when they include the batch dimension, the count is computed in
/// the graph so it stays right after `--batch` binds it.
std::string element_count(GraphBuilder& b, const std::vector<int64_t>& dims, const std::vector<int64_t>& axes,
                          DType dtype);

/// Normalized, sorted reduction axes of a node's `axes` attribute over a
/// value of `rank`; every axis when the attribute is absent or empty.
/// Returns an error text in `*err` for out-of-range or repeated axes.
std::vector<int64_t> reduction_axes(const std::vector<int64_t>& axes, int64_t rank, std::string* err);

/// `grad` scaled by the constant `factor`, in grad's dtype.
std::string scale(GraphBuilder& b, const std::string& grad, double factor);

/// The parts of a numerically stable softmax / logsumexp over `axes`, all
/// keeping the reduced axes as size 1: the max (a stop_gradient, since it
/// only keeps exp from overflowing), exp(x - max), and its sum.
struct StableExp {
  std::string max, exp, sum;
};
StableExp stable_exp(GraphBuilder& b, const std::string& x, const std::vector<int64_t>& axes);

/// `x` as a float value of `dtype`: a cast when x is integer or bool.
std::string as_float(GraphBuilder& b, const std::string& x, DType dtype);

}  // namespace dlc
