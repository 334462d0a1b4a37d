#include "runtime/cuda/cublas_library.h"

#include <dlfcn.h>

#include <climits>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ir/error.h"
#include "runtime/cuda/symbol_resolver.h"

namespace dlc::cuda {
namespace {

std::vector<std::string> library_candidates() {
  const char* env = std::getenv("DLC_CUBLAS_LIBRARY");
  if (env && *env) return {env};  // an explicit choice: no silent fallback to another version
  return {"libcublas.so." + std::to_string(CUBLAS_VER_MAJOR), "libcublas.so"};
}

std::unique_ptr<CublasApi> load_cublas() {
  void* lib = nullptr;
  std::string tried;
  for (const std::string& name : library_candidates()) {
    lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib) break;
    const char* why = dlerror();
    tried += (tried.empty() ? "" : "; ") + name + ": " + (why ? why : "unknown reason");
  }
  if (!lib)
    throw Error("cuda target: cuBLAS could not be loaded (" + tried +
                "); install cuBLAS " + std::to_string(CUBLAS_VER_MAJOR) +
                " or set DLC_CUBLAS_LIBRARY to the library's path");
  auto api = std::make_unique<CublasApi>();
  SymbolResolver resolve(lib);
#define DLC_CUBLAS_RESOLVE(name) resolve(api->name, DLC_SYMBOL_NAME(name));
  DLC_CUBLAS_FUNCTIONS(DLC_CUBLAS_RESOLVE)
#undef DLC_CUBLAS_RESOLVE
  const std::string& missing = resolve.missing();
  if (!missing.empty()) {
    dlclose(lib);
    throw Error("cuda target: the cuBLAS library lacks " + missing + " (cuBLAS " + std::to_string(CUBLAS_VER_MAJOR) +
                " or newer is needed)");
  }
  return api;
}

std::mutex load_mutex;
const CublasApi* loaded = nullptr;

void check(cublasStatus_t status, const char* call) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  const CublasApi& api = cublas();
  const char* name = api.cublasGetStatusName(status);
  const char* text = api.cublasGetStatusString(status);
  throw Error(std::string("cuda target: ") + call + " failed: " +
              (name ? name : "cuBLAS status " + std::to_string(static_cast<int>(status))) +
              (text ? std::string(" (") + text + ")" : std::string()));
}

/// cuBLAS's 32-bit interface: sizes beyond int are refused, not truncated.
int to_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw Error("cuda target: GEMM " + std::string(what) + " " + std::to_string(v) + " is out of cuBLAS's int range");
  return static_cast<int>(v);
}

cublasOperation_t op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

float* as_floats(CUdeviceptr p) { return reinterpret_cast<float*>(static_cast<uintptr_t>(p)); }

}  // namespace

const CublasApi& cublas() {
  std::lock_guard<std::mutex> lock(load_mutex);
  if (!loaded) loaded = load_cublas().release();  // in use until exit
  return *loaded;
}

CublasHandle::CublasHandle(CUstream stream, CUdeviceptr workspace, size_t workspace_bytes) {
  const CublasApi& api = cublas();
  check(api.cublasCreate(&handle_), "cublasCreate");
  try {
    check(api.cublasSetStream(handle_, stream), "cublasSetStream");
    // CUBLAS_DEFAULT_MATH keeps FP32 products in FP32 (TF32 only under
    // CUBLAS_TF32_TENSOR_OP_MATH); set explicitly so a changed default
    // cannot loosen the results.
    check(api.cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    check(api.cublasSetWorkspace(handle_, reinterpret_cast<void*>(static_cast<uintptr_t>(workspace)), workspace_bytes),
          "cublasSetWorkspace");
  } catch (...) {
    api.cublasDestroy(handle_);
    handle_ = nullptr;
    throw;
  }
}

CublasHandle::~CublasHandle() {
  if (handle_) cublas().cublasDestroy(handle_);
}

void CublasHandle::sgemm_row_major(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                                   CUdeviceptr a, int64_t lda, int64_t stride_a, CUdeviceptr b, int64_t ldb,
                                   int64_t stride_b, float beta, CUdeviceptr c, int64_t ldc, int64_t stride_c,
                                   int64_t batch) {
  // cuBLAS is column-major, and a row-major matrix read column-major is its
  // transpose: row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T,
  // so B goes first, with the sizes swapped.
  const CublasApi& api = cublas();
  const int im = to_int(m, "m"), in = to_int(n, "n"), ik = to_int(k, "k");
  const int ilda = to_int(lda, "lda"), ildb = to_int(ldb, "ldb"), ildc = to_int(ldc, "ldc");
  if (batch == 1 || stride_c == 0) {
    // A C shared by every batch (never emitted, but defined) runs in order.
    for (int64_t i = 0; i < batch; ++i)
      check(api.cublasSgemm(handle_, op(trans_b), op(trans_a), in, im, ik, &alpha, as_floats(b) + i * stride_b, ildb,
                            as_floats(a) + i * stride_a, ilda, &beta, as_floats(c) + i * stride_c, ildc),
            "cublasSgemm");
    return;
  }
  check(api.cublasSgemmStridedBatched(handle_, op(trans_b), op(trans_a), in, im, ik, &alpha, as_floats(b), ildb,
                                      stride_b, as_floats(a), ilda, stride_a, &beta, as_floats(c), ildc, stride_c,
                                      to_int(batch, "batch")),
        "cublasSgemmStridedBatched");
}

namespace {
int vector_length(int64_t n, const char* call) {
  if (n < 0 || n > INT_MAX) throw Error(std::string("cuda target: ") + call + " of " + std::to_string(n) + " elements");
  return static_cast<int>(n);
}
}  // namespace

void CublasHandle::saxpy(int64_t n, float alpha, CUdeviceptr x, CUdeviceptr y) {
  check(cublas().cublasSaxpy(handle_, vector_length(n, "cublasSaxpy"), &alpha, reinterpret_cast<const float*>(x), 1,
                             reinterpret_cast<float*>(y), 1),
        "cublasSaxpy");
}

void CublasHandle::sscal(int64_t n, float alpha, CUdeviceptr x) {
  check(cublas().cublasSscal(handle_, vector_length(n, "cublasSscal"), &alpha, reinterpret_cast<float*>(x), 1),
        "cublasSscal");
}

}  // namespace dlc::cuda
