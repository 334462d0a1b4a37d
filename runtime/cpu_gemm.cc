#include "runtime/cpu_gemm.h"

#include <cblas.h>
#include <dnnl.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "ir/error.h"
#include "runtime/one_openmp_thread.h"

namespace dlc {

GemmLibrary gemm_library_from_environment() {
  const char* env = std::getenv("DLC_CPU_GEMM");
  if (!env || std::string(env).empty() || std::string(env) == "onednn") return GemmLibrary::onednn;
  if (std::string(env) == "openblas") return GemmLibrary::openblas;
  throw Error("DLC_CPU_GEMM is '" + std::string(env) + "'; it must be onednn or openblas");
}

void cpu_sgemm(GemmLibrary library, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  auto i = [](int64_t v) { return static_cast<blasint>(v); };
  if (m == 1) {
    // BLAS may scale y by beta = 0 rather than overwrite it: NaN from an
    // arena's earlier contents would survive, so clear the row first.
    if (beta == 0) std::fill(c, c + n, 0.0f);
    const blasint incx = trans_a ? i(lda) : 1;  // A's only row, strided when A is stored transposed
    if (trans_b) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, i(n), i(k), alpha, b, i(ldb), a, incx, beta, c, 1);
    } else {
      cblas_sgemv(CblasRowMajor, CblasTrans, i(k), i(n), alpha, b, i(ldb), a, incx, beta, c, 1);
    }
    return;
  }
  if (library == GemmLibrary::openblas) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, i(m), i(n),
                i(k), alpha, a, i(lda), b, i(ldb), beta, c, i(ldc));
    return;
  }
  OneOpenMpThread one_thread;
  dnnl_status_t status =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success)
    throw Error("oneDNN sgemm of " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) +
                " failed (status " + std::to_string(static_cast<int>(status)) + ")");
}

}  // namespace dlc
