#include "runtime/cuda/cuda_driver.h"

#include <dlfcn.h>

#include <cstdlib>
#include <memory>
#include <mutex>

#include "ir/error.h"
#include "runtime/cuda/symbol_resolver.h"

namespace dlc::cuda {
namespace {

/// The driver library: DLC_CUDA_DRIVER_LIBRARY when set (another driver,
/// or a stub for tests), else the soname the driver installs.
std::string driver_library_name() {
  const char* env = std::getenv("DLC_CUDA_DRIVER_LIBRARY");
  return env && *env ? env : "libcuda.so.1";
}

/// Names of the errors cuInit gives when the library cannot name them
/// itself (the toolkit's stub answers every call, cuGetErrorName included,
/// with CUDA_ERROR_STUB_LIBRARY).
std::string unnamed_error(CUresult r) {
  switch (r) {
    case CUDA_ERROR_STUB_LIBRARY: return "CUDA_ERROR_STUB_LIBRARY (the CUDA toolkit's stub, not an NVIDIA driver)";
    case CUDA_ERROR_NO_DEVICE: return "CUDA_ERROR_NO_DEVICE";
    default: return "CUDA error " + std::to_string(static_cast<int>(r));
  }
}

std::unique_ptr<DriverApi> load_driver() {
  const std::string name = driver_library_name();
  // RTLD_LOCAL: nothing else in the process binds to these symbols by accident.
  void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = dlerror();
    throw Error("cuda target: no CUDA driver (" + name + " could not be loaded: " + (why ? why : "unknown reason") +
                "); this machine needs an NVIDIA GPU and its driver to run cuda executables");
  }
  auto api = std::make_unique<DriverApi>();
  SymbolResolver resolve(lib);
#define DLC_CUDA_RESOLVE(name) resolve(api->name, DLC_SYMBOL_NAME(name));
  DLC_CUDA_DRIVER_FUNCTIONS(DLC_CUDA_RESOLVE)
#undef DLC_CUDA_RESOLVE
  const std::string& missing = resolve.missing();
  if (!missing.empty()) {
    dlclose(lib);
    throw Error("cuda target: the CUDA driver " + name + " is too old or incomplete (missing " + missing +
                "); install a driver for CUDA " + std::to_string(CUDA_VERSION / 1000) + " or newer");
  }
  CUresult init = api->cuInit(0);
  if (init != CUDA_SUCCESS) {
    // Names come from the library that just failed, so read them before closing it.
    const char* err = nullptr;
    if (api->cuGetErrorName(init, &err) != CUDA_SUCCESS || !err) err = nullptr;
    std::string text = err ? err : unnamed_error(init);
    dlclose(lib);
    if (init == CUDA_ERROR_NO_DEVICE) throw Error("cuda target: no CUDA device (cuInit: " + text + ")");
    throw Error("cuda target: the CUDA driver " + name + " did not start (cuInit failed: " + text + ")");
  }
  return api;  // the library stays loaded for the life of the process
}

std::mutex load_mutex;
const DriverApi* loaded = nullptr;

}  // namespace

const DriverApi& driver() {
  std::lock_guard<std::mutex> lock(load_mutex);
  if (!loaded) loaded = load_driver().release();  // never freed: in use until exit
  return *loaded;
}

std::string error_text(CUresult result) {
  const DriverApi& api = driver();
  const char* name = nullptr;
  const char* text = nullptr;
  if (api.cuGetErrorName(result, &name) != CUDA_SUCCESS) name = nullptr;
  if (api.cuGetErrorString(result, &text) != CUDA_SUCCESS) text = nullptr;
  std::string s = name ? name : unnamed_error(result);
  if (text) s += std::string(" (") + text + ")";
  return s;
}

void check(CUresult result, const char* call) {
  if (result == CUDA_SUCCESS) return;
  throw Error(std::string("cuda target: ") + call + " failed: " + error_text(result));
}

bool cuda_device_available() {
  try {
    int count = 0;
    return driver().cuDeviceGetCount(&count) == CUDA_SUCCESS && count > 0;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace dlc::cuda
