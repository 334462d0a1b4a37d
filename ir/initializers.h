// Seeded, reproducible parameter initialization.
//
// A parameter's values depend only on the seed and the parameter's name
// (never on its position among the parameters), so adding or reordering
// parameters leaves the others' initial values unchanged.
#pragma once

#include <cstdint>

#include "ir/graph.h"
#include "ir/tensor.h"

namespace dlc {

/// The initial value of `p` from its Initializer (ir/dlc.proto):
///   zeros, constant(value), normal(mean, std), uniform(lo, hi),
///   xavier: U(-a, a), a = sqrt(6 / (fan_in + fan_out)),
///   he:     N(0, 2 / fan_in),
///   data:   the inline values, which must number exactly numel.
/// Fans: a rank-2 parameter is a matmul weight [in, out] (fan_in = dims[0],
/// fan_out = dims[1]); rank 3 and more is a convolution weight [O, C, kh,
/// kw, ...] as in PyTorch (fan_in = C·kh·kw..., fan_out = O·kh·kw...); a
/// rank-1 parameter has fan_in = fan_out = dims[0]; a scalar has fans of 1.
/// Element e draws from Philox keyed by `seed` with counter
/// (e, fnv1a64(p.name)). f32 parameters are rounded to float32 so that every
/// backend starts from the same bits; integer ones are truncated.
/// Throws dlc::Error naming the parameter for a batch dimension, an unset
/// initializer, a negative std or hi < lo, or a wrong inline value count.
Tensor initialize_parameter(const Parameter& p, uint64_t seed);

/// Fan-in and fan-out as xavier and he use them.
void parameter_fans(const std::vector<int64_t>& dims, int64_t* fan_in, int64_t* fan_out);

}  // namespace dlc
