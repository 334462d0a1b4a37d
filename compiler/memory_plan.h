// Memory planning: arena offsets for a Program's temps.
//
// Liveness runs over the linear schedule: a temp lives from the first step
// that writes it to the last step that reads it. Temps whose lives do not
// overlap share arena bytes: slots are placed largest first, each at the
// lowest 64-byte aligned offset free of every slot it overlaps in time
// (first fit by size). One exception lets two live temps share bytes in the
// same step: an element-wise loop kernel (or a GEMM's epilogue reading the
// GEMM's result) stores a temp T at exactly the elements where it loads a
// temp U of the same dtype and size that dies in that step; every load of U
// in the kernel uses that same index map, so each element is read before it
// is overwritten (see the kernel IR's in-place rule). Inputs, outputs,
// parameters, state and constants are not in the arena.
#pragma once

#include <cstdint>
#include <vector>

#include "kernel/kernel_ir.h"

namespace dlc {

/// The steps during which a temp lives (inclusive); -1 when never used.
struct Lifetime {
  int first = -1;
  int last = -1;
};

/// An in-place reuse: temp `to` took temp `from`'s bytes at `step`.
struct InPlace {
  int from = -1, to = -1, step = -1;
};

struct MemoryStats {
  int64_t arena_bytes = 0;      // the planned peak
  int64_t unplanned_bytes = 0;  // every temp's bytes added up
  std::vector<InPlace> in_place;
};

/// Sets the offset of every temp in `p`, and p.arena_bytes /
/// p.unplanned_bytes; returns the same numbers and the in-place reuses.
MemoryStats plan_memory(Program& p);

/// The lifetime of every buffer (entries for non-temps are filled too).
std::vector<Lifetime> buffer_lifetimes(const Program& p);

/// The buffers a step reads and writes (a buffer can be in both).
void step_buffers(const Step& s, std::vector<int>* reads, std::vector<int>* writes);

/// Arena offsets are multiples of this.
constexpr int64_t kArenaAlignment = 64;

}  // namespace dlc
