// The cpu executor's matrix product: one single-threaded call per block of
// C (the executor's thread pool owns the parallelism and the cut).
//
// oneDNN's sgemm (JIT-generated AVX2/AVX-512 kernels) by default: measured
// single-threaded on this project's AVX-512 box, it runs the MLP's block
// shapes 18-72% faster than OpenBLAS's (bench/RESULTS.md, session 8). A
// single row goes through OpenBLAS's sgemv, which packs nothing and is the
// faster of the two there (inference at batch 1). DLC_CPU_GEMM=openblas
// selects OpenBLAS's sgemm instead, for comparisons. Each library gives the
// same bits on every call for the same shape and operands, so the results
// stay independent of the thread count either way.
#pragma once

#include <cstdint>

namespace dlc {

enum class GemmLibrary { onednn, openblas };

/// The library DLC_CPU_GEMM names ("onednn" or "openblas"; unset: onednn).
/// Throws dlc::Error naming the variable for any other value.
GemmLibrary gemm_library_from_environment();

/// Row-major C[m,n] = alpha op(A)[m,k] op(B)[k,n] + beta C on the calling
/// thread. With beta = 0, C is overwritten (NaN in it does not survive).
/// Throws dlc::Error when the library reports a failure.
void cpu_sgemm(GemmLibrary library, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace dlc
