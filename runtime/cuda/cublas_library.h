// cuBLAS, loaded with dlopen at first use (like the driver: dlrt never links
// it). The library is libcublas.so.13, else libcublas.so; the environment
// variable DLC_CUBLAS_LIBRARY names another file to load instead.
#pragma once

#include <cublas_v2.h>
#include <cuda.h>

#include <cstdint>

namespace dlc::cuda {

/// The cuBLAS functions the cuda executor uses (the _v2 symbols where
/// cublas_v2.h renames them).
struct CublasApi {
#define DLC_CUBLAS_FUNCTIONS(X)                                                                   \
  X(cublasCreate) X(cublasDestroy) X(cublasSetStream) X(cublasSetMathMode) X(cublasSgemm)         \
  X(cublasSgemmStridedBatched) X(cublasGetStatusName) X(cublasGetStatusString) X(cublasSetWorkspace)   \
  X(cublasSaxpy) X(cublasSscal)
#define DLC_CUBLAS_DECLARE_POINTER(name) decltype(&::name) name = nullptr;
  DLC_CUBLAS_FUNCTIONS(DLC_CUBLAS_DECLARE_POINTER)
#undef DLC_CUBLAS_DECLARE_POINTER
};

/// The loaded library; throws dlc::Error naming the files tried and why
/// each failed, or the missing functions. A later call tries again. Needs
/// no GPU (nothing is initialized until a handle is created).
const CublasApi& cublas();

/// One cuBLAS handle bound to `stream` in the current context, in plain
/// FP32 math (no TF32), so products match the reference within float32
/// rounding and repeat bitwise on the same GPU. `workspace` (device memory
/// of `workspace_bytes`, which must outlive the handle) is cuBLAS's scratch:
/// given up front, cuBLAS allocates nothing while a step is captured into a
/// CUDA graph.
class CublasHandle {
 public:
  CublasHandle(CUstream stream, CUdeviceptr workspace, size_t workspace_bytes);
  ~CublasHandle();
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;

  /// Row-major, for b < batch:
  ///   C[b] = alpha op(A[b]) op(B[b]) + beta C[b]
  /// with op(A) [m,k], op(B) [k,n], C [m,n] (leading dims lda, ldb, ldc;
  /// batch strides in elements, 0 for an operand all batches share).
  /// Requires m, n, k > 0 (cuBLAS refuses some k = 0 layouts; the caller
  /// computes C = beta C itself). Throws dlc::Error naming cuBLAS's status.
  void sgemm_row_major(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, CUdeviceptr a,
                       int64_t lda, int64_t stride_a, CUdeviceptr b, int64_t ldb, int64_t stride_b, float beta,
                       CUdeviceptr c, int64_t ldc, int64_t stride_c, int64_t batch);

  /// y += alpha x over n floats (the rank-ordered sum of a data-parallel
  /// bucket, one process's block at a time).
  void saxpy(int64_t n, float alpha, CUdeviceptr x, CUdeviceptr y);
  /// x *= alpha over n floats.
  void sscal(int64_t n, float alpha, CUdeviceptr x);

 private:
  cublasHandle_t handle_ = nullptr;
};

}  // namespace dlc::cuda
