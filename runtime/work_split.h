// How the cpu executor cuts a step into chunks for the thread pool.
//
// The cut is a function of the step's shape alone, never of the thread
// count. Each chunk computes its part of the output in the same way
// whichever thread runs it, so a program gives the same bits on 1 thread or
// on 64: the same model, seed and data train to the same weights on any
// machine of the same kind. (Where the cut falls does change the bits: a
// BLAS call over a block of C takes other code paths for small blocks and
// single rows, and a generated kernel's vector loop ends where its chunk
// ends. A cut that never moves makes that harmless.)
#pragma once

#include <cstdint>

namespace dlc::work_split {

/// Chunks for a loop kernel of `range` items, `work_per_item` loop
/// iterations each: enough to balance any thread count, none so small that
/// claiming it costs more than running it.
int loop_chunks(int64_t range, int64_t work_per_item);

/// A GEMM's cut: blocks of C's rows, or of its columns when C is wider than
/// tall (each block then repacks only its share of B). Never along k: every
/// element of C is one BLAS call's sum, so no partial sums are ever added.
struct GemmSplit {
  bool by_rows = true;
  int chunks = 1;
};

/// The cut of C[m,n] = op(A)[m,k] op(B)[k,n] (k > 0).
GemmSplit gemm_split(int64_t m, int64_t n, int64_t k);

/// A convolution's cut: blocks of whole images of its `batch`, each one
/// library call of `macs` / chunks multiply-adds. The weight gradient sums
/// over the images, so each block writes a partial sum and the blocks' sums
/// are added in block order; `weight_numel` bounds their memory.
int conv_chunks(int64_t batch, int64_t macs, int64_t weight_numel);

}  // namespace dlc::work_split
