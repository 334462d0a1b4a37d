#include "runtime/cuda/cuda_resources.h"

#include <utility>

#include "ir/error.h"
#include "runtime/cuda/cuda_driver.h"

namespace dlc::cuda {

PrimaryContext::PrimaryContext(int ordinal) {
  const DriverApi& api = driver();
  int count = 0;
  DLC_CU(cuDeviceGetCount, &count);
  if (count <= ordinal)
    throw Error("cuda target: no CUDA device" + (count > 0 ? " " + std::to_string(ordinal) : std::string()) +
                " (the driver sees " + std::to_string(count) + ")");
  DLC_CU(cuDeviceGet, &device_, ordinal);
  DLC_CU(cuDevicePrimaryCtxRetain, &context_, device_);
  CUresult r = api.cuCtxSetCurrent(context_);
  if (r != CUDA_SUCCESS) {
    api.cuDevicePrimaryCtxRelease(device_);
    check(r, "cuCtxSetCurrent");
  }
}

PrimaryContext::~PrimaryContext() {
  if (context_) driver().cuDevicePrimaryCtxRelease(device_);
}

void PrimaryContext::make_current() const { DLC_CU(cuCtxSetCurrent, context_); }

std::string PrimaryContext::device_name() const {
  char name[256] = {};
  DLC_CU(cuDeviceGetName, name, static_cast<int>(sizeof(name) - 1), device_);
  return name;
}

std::string PrimaryContext::device_arch() const {
  int major = 0, minor = 0;
  DLC_CU(cuDeviceGetAttribute, &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device_);
  DLC_CU(cuDeviceGetAttribute, &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device_);
  return "sm_" + std::to_string(major) + std::to_string(minor);
}

Stream::Stream() {
  // Blocking with respect to the legacy default stream: synchronous copies
  // (get_state, set_state) order themselves after our work.
  DLC_CU(cuStreamCreate, &stream_, CU_STREAM_DEFAULT);
}

Stream::~Stream() {
  if (stream_) driver().cuStreamDestroy(stream_);
}

void Stream::synchronize() const { DLC_CU(cuStreamSynchronize, stream_); }

DeviceBuffer::DeviceBuffer(size_t bytes, const std::string& what) {
  size_t n = bytes > 0 ? bytes : 1;
  CUresult r = driver().cuMemAlloc(&ptr_, n);
  if (r != CUDA_SUCCESS)
    throw Error("cuda target: cannot allocate " + std::to_string(n) + " bytes of device memory for " + what +
                " (cuMemAlloc failed: " + error_text(r) + ")");
  size_ = n;
  // Zero like the cpu executor's arena: no run ever reads uninitialized
  // bytes, so results never depend on what the memory held before.
  DLC_CU(cuMemsetD8, ptr_, 0, n);
}

DeviceBuffer::~DeviceBuffer() { release(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, 0)), size_(std::exchange(other.size_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    release();
    ptr_ = std::exchange(other.ptr_, 0);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void DeviceBuffer::release() noexcept {
  if (ptr_) driver().cuMemFree(ptr_);
  ptr_ = 0;
  size_ = 0;
}

PinnedBuffer::PinnedBuffer(size_t bytes, const std::string& what) {
  size_t n = bytes > 0 ? bytes : 1;
  void* p = nullptr;
  CUresult r = driver().cuMemHostAlloc(&p, n, 0);
  if (r != CUDA_SUCCESS)
    throw Error("cuda target: cannot allocate " + std::to_string(n) + " bytes of pinned host memory for " + what +
                " (cuMemHostAlloc failed: " + error_text(r) + ")");
  data_ = static_cast<char*>(p);
  size_ = n;
}

PinnedBuffer::~PinnedBuffer() { release(); }

PinnedBuffer::PinnedBuffer(PinnedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void PinnedBuffer::release() noexcept {
  if (data_) driver().cuMemFreeHost(data_);
  data_ = nullptr;
  size_ = 0;
}

CapturedGraph::~CapturedGraph() {
  if (exec_) driver().cuGraphExecDestroy(exec_);
}

CapturedGraph::CapturedGraph(CapturedGraph&& other) noexcept : exec_(std::exchange(other.exec_, nullptr)) {}

CapturedGraph& CapturedGraph::operator=(CapturedGraph&& other) noexcept {
  if (this != &other) {
    if (exec_) driver().cuGraphExecDestroy(exec_);
    exec_ = std::exchange(other.exec_, nullptr);
  }
  return *this;
}

void CapturedGraph::begin(CUstream stream) {
  // Relaxed: cuBLAS may query or set up things while it is captured; only
  // what is issued on `stream` goes into the graph either way.
  DLC_CU(cuStreamBeginCapture, stream, CU_STREAM_CAPTURE_MODE_RELAXED);
}

void CapturedGraph::abandon(CUstream stream) noexcept {
  CUgraph graph = nullptr;
  if (driver().cuStreamEndCapture(stream, &graph) == CUDA_SUCCESS && graph) driver().cuGraphDestroy(graph);
}

CapturedGraph CapturedGraph::end(CUstream stream) {
  CUgraph graph = nullptr;
  DLC_CU(cuStreamEndCapture, stream, &graph);
  CapturedGraph g;
  CUresult r = driver().cuGraphInstantiate(&g.exec_, graph, 0);
  driver().cuGraphDestroy(graph);  // the instance keeps what it needs
  if (r != CUDA_SUCCESS) {
    g.exec_ = nullptr;
    check(r, "cuGraphInstantiate");
  }
  return g;
}

void CapturedGraph::launch(CUstream stream) const { DLC_CU(cuGraphLaunch, exec_, stream); }

namespace {

/// Loads `image` (a cubin, or NUL-terminated PTX); returns the driver's result.
CUresult load(const std::string& image, CUmodule* module) { return driver().cuModuleLoadData(module, image.c_str()); }

}  // namespace

Module::Module(const std::string& cubin, const std::string& ptx) {
  if (cubin.empty() && ptx.empty()) throw Error("the cuda executable has no code (neither cubin nor PTX)");
  std::string cubin_failure;
  if (!cubin.empty()) {
    CUresult r = load(cubin, &module_);
    if (r == CUDA_SUCCESS) return;
    // Typically CUDA_ERROR_NO_BINARY_FOR_GPU (compiled for another
    // architecture); the PTX, compiled by the driver for this GPU, may still run.
    module_ = nullptr;
    cubin_failure = error_text(r);
    if (ptx.empty()) throw Error("cuda target: the executable's cubin does not load: " + cubin_failure + ", and it has no PTX");
  }
  CUresult r = load(ptx, &module_);  // std::string keeps a terminating NUL
  if (r != CUDA_SUCCESS) {
    module_ = nullptr;
    std::string why = "cuda target: the executable's code does not load on this GPU: ";
    if (!cubin_failure.empty()) why += "cubin: " + cubin_failure + "; ";
    throw Error(why + "PTX: " + error_text(r) +
                " (a driver older than the compiler's CUDA toolkit cannot compile its PTX)");
  }
  from_ptx_ = true;
}

Module::~Module() {
  if (module_) driver().cuModuleUnload(module_);
}

CUfunction Module::function(const std::string& symbol) const {
  CUfunction fn = nullptr;
  CUresult r = driver().cuModuleGetFunction(&fn, module_, symbol.c_str());
  if (r != CUDA_SUCCESS)
    throw Error("cuda target: the executable's code has no kernel '" + symbol + "' (" + error_text(r) + ")");
  return fn;
}

CUfunction Module::find_function(const std::string& symbol) const {
  CUfunction fn = nullptr;
  return driver().cuModuleGetFunction(&fn, module_, symbol.c_str()) == CUDA_SUCCESS ? fn : nullptr;
}

CUdeviceptr Module::global(const std::string& symbol, size_t* bytes) const {
  CUdeviceptr ptr = 0;
  size_t size = 0;
  CUresult r = driver().cuModuleGetGlobal(&ptr, &size, module_, symbol.c_str());
  if (r != CUDA_SUCCESS)
    throw Error("cuda target: the executable's code has no variable '" + symbol + "' (" + error_text(r) + ")");
  if (bytes) *bytes = size;
  return ptr;
}

}  // namespace dlc::cuda
