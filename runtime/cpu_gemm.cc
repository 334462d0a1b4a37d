#include "runtime/cpu_gemm.h"

#include <cblas.h>
#include <dnnl.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "ir/error.h"

// libgomp's C API, declared here rather than through <omp.h>, which only
// GCC ships (the fuzz build compiles with clang and links the same libgomp).
extern "C" {
int omp_get_max_threads(void);
void omp_set_num_threads(int);
}

namespace dlc {
namespace {

/// Debian's oneDNN runs on OpenMP and would start a team of threads inside
/// each call; the block is one thread's work, so the calling thread's
/// OpenMP thread count is 1 for the call and restored after it.
class OneOpenMpThread {
 public:
  OneOpenMpThread() : saved_(omp_get_max_threads()) {
    if (saved_ != 1) omp_set_num_threads(1);
  }
  ~OneOpenMpThread() {
    if (saved_ != 1) omp_set_num_threads(saved_);
  }
  OneOpenMpThread(const OneOpenMpThread&) = delete;
  OneOpenMpThread& operator=(const OneOpenMpThread&) = delete;

 private:
  int saved_;
};

}  // namespace

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
