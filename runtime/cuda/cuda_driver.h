// The CUDA driver API, loaded with dlopen at first use.
//
// dlrt never links libcuda: the same build runs on machines without a GPU
// (every other target works there), and a cuda executable fails with a
// clear dlc::Error instead of a loader error at program start. Only cuda.h
// is included, for the types and the declarations the function pointers
// take their types from; cuda.h maps several names to their _v2 symbols
// (cuMemAlloc -> cuMemAlloc_v2), and the loader resolves the mapped names.
#pragma once

#include <cuda.h>

#include <string>

namespace dlc::cuda {

/// The driver functions the cuda executor uses.
struct DriverApi {
#define DLC_CUDA_DRIVER_FUNCTIONS(X)                                                                         \
  X(cuInit) X(cuDeviceGetCount) X(cuDeviceGet) X(cuDeviceGetName) X(cuDeviceGetAttribute)                  \
  X(cuDevicePrimaryCtxRetain) X(cuDevicePrimaryCtxRelease) X(cuCtxSetCurrent) X(cuModuleLoadData)           \
  X(cuModuleUnload) X(cuModuleGetFunction) X(cuModuleGetGlobal) X(cuMemAlloc) X(cuMemFree) X(cuMemcpyHtoD) \
  X(cuMemcpyDtoH) X(cuMemcpyHtoDAsync) X(cuMemcpyDtoHAsync) X(cuMemcpyDtoDAsync) X(cuMemsetD8)              \
  X(cuLaunchKernel) X(cuStreamCreate) X(cuStreamDestroy) X(cuStreamSynchronize) X(cuGetErrorName)          \
  X(cuGetErrorString) X(cuMemHostAlloc) X(cuMemFreeHost) X(cuStreamBeginCapture) X(cuStreamEndCapture)       \
  X(cuGraphInstantiate) X(cuGraphLaunch) X(cuGraphDestroy) X(cuGraphExecDestroy) X(cuStreamQuery)
#define DLC_CUDA_DECLARE_POINTER(name) decltype(&::name) name = nullptr;
  DLC_CUDA_DRIVER_FUNCTIONS(DLC_CUDA_DECLARE_POINTER)
#undef DLC_CUDA_DECLARE_POINTER
};

/// The loaded driver, initialized (cuInit) on the first call. Throws
/// dlc::Error when libcuda.so.1 (or the file DLC_CUDA_DRIVER_LIBRARY names)
/// cannot be loaded, lacks a function, or cuInit fails; a later call tries
/// again. Thread-safe.
const DriverApi& driver();

/// "CUDA_ERROR_X (text)" for `result`, also when the driver cannot name it.
std::string error_text(CUresult result);

/// Throws dlc::Error "cuda target: CALL failed: CUDA_ERROR_X (text)" unless
/// `result` is CUDA_SUCCESS.
void check(CUresult result, const char* call);

/// True when the driver loads and sees at least one device. Never throws;
/// tests use it to skip what needs a GPU.
bool cuda_device_available();

}  // namespace dlc::cuda

/// Calls driver function `fn` with the arguments that follow and checks the
/// result, naming the call in the error: DLC_CU(cuMemAlloc, &ptr, bytes).
#define DLC_CU(fn, ...) ::dlc::cuda::check(::dlc::cuda::driver().fn(__VA_ARGS__), #fn)
