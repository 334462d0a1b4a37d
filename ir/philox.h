// Philox 4x32-10, the counter-based generator of Salmon et al., "Parallel
// Random Numbers: As Easy as 1, 2, 3" (SC11), with the Random123 constants.
//
// A counter-based generator is a pure function of (counter, key), so any
// element of a random stream can be computed on its own: the interpreter,
// the CPU backend and a CUDA thread all reproduce the same bits without
// sharing state. Every random number dlc draws (initializers, dropout masks)
// goes through this one function.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace dlc {

using PhiloxCounter = std::array<uint32_t, 4>;
using PhiloxKey = std::array<uint32_t, 2>;

/// Philox 4x32 with 10 rounds: four 32-bit random words for (counter, key).
/// Bit-exact with Random123's philox4x32_R(10, ...).
PhiloxCounter philox4x32_10(PhiloxCounter counter, PhiloxKey key);

/// Splits a 64-bit value into a Philox key, low word first.
inline PhiloxKey philox_key(uint64_t k) {
  return {static_cast<uint32_t>(k), static_cast<uint32_t>(k >> 32)};
}

/// A counter from two 64-bit halves, low words first: {lo(a), hi(a), lo(b), hi(b)}.
inline PhiloxCounter philox_counter(uint64_t a, uint64_t b) {
  return {static_cast<uint32_t>(a), static_cast<uint32_t>(a >> 32), static_cast<uint32_t>(b),
          static_cast<uint32_t>(b >> 32)};
}

/// A float in [0, 1) from the top 24 bits of `word`. Every value is an exact
/// f32 (a multiple of 2^-24), so backends computing in float32 or float64
/// get the same number and the same comparisons.
inline float uniform_float(uint32_t word) { return static_cast<float>(word >> 8) * 0x1p-24f; }

/// A double in (0, 1] from two words (53 random bits); never 0, so its
/// logarithm is finite (Box-Muller).
inline double uniform_double_open0(uint32_t hi, uint32_t lo) {
  uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
  return (static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) + 1.0) * 0x1p-53;
}

/// 64-bit FNV-1a of `s`: stable names → stable random streams.
uint64_t fnv1a64(std::string_view s);

/// SplitMix64's finalizer: a bijective mix of all 64 bits.
uint64_t mix64(uint64_t x);

// --- dropout -----------------------------------------------------------
// Every backend must draw dropout masks exactly this way:
//   key     = philox_key(dropout_philox_key(seed, node_key))
//   block   = philox4x32_10(philox_counter(i / 4, step), key)
//   word    = block[i % 4]
//   keep(i) = uniform_float(word) >= float(rate)
// so element i of a tensor is kept with probability 1 - rate, and four
// consecutive elements share one Philox call.

/// The Philox key of a dropout node: the run's seed mixed with the node's key.
inline uint64_t dropout_philox_key(uint64_t seed, uint64_t node_key) { return seed ^ mix64(node_key); }

/// Whether dropout keeps element `index` at `step` (see the recipe above).
bool dropout_keep(uint64_t seed, uint64_t node_key, uint64_t step, uint64_t index, float rate);

}  // namespace dlc
