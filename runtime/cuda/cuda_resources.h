// Owners of driver objects: the primary context, a stream, device memory,
// pinned host memory, a loaded module and an instantiated CUDA graph. Each releases its object in its destructor, which
// never throws (a failure there is ignored: the process may be exiting
// after a device error, and there is nobody left to tell).
//
// The driver keeps one current context per thread: callers make the
// PrimaryContext current before using (or destroying) anything else here.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <string>

namespace dlc::cuda {

/// Device `ordinal`'s primary context, retained for the owner's lifetime.
/// cuBLAS (which runs on the CUDA runtime) uses the same context, so
/// cuBLAS calls and our kernels see the same memory.
class PrimaryContext {
 public:
  /// Throws dlc::Error "no CUDA device" when there is no such device.
  explicit PrimaryContext(int ordinal = 0);
  ~PrimaryContext();
  PrimaryContext(const PrimaryContext&) = delete;
  PrimaryContext& operator=(const PrimaryContext&) = delete;

  /// Binds the context to the calling thread (cheap; every entry point of
  /// the executor calls it, since callers may switch threads).
  void make_current() const;
  /// The device's name, e.g. "NVIDIA H100 80GB HBM3".
  std::string device_name() const;
  /// "sm_XY" of the device.
  std::string device_arch() const;

 private:
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
};

/// A stream of its own: work runs in issue order on it.
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  CUstream get() const { return stream_; }
  /// Waits for everything issued so far; throws dlc::Error with any
  /// failure of that work (a kernel fault is reported here).
  void synchronize() const;

 private:
  CUstream stream_ = nullptr;
};

/// Device memory, zero-filled on allocation, at least one byte (so an empty
/// buffer still has a distinct, valid address).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  /// `what` names the allocation in an out-of-memory error.
  DeviceBuffer(size_t bytes, const std::string& what);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  CUdeviceptr ptr() const { return ptr_; }
  size_t size() const { return size_; }

 private:
  void release() noexcept;
  CUdeviceptr ptr_ = 0;
  size_t size_ = 0;
};

/// Page-locked host memory (cuMemHostAlloc), at least one byte: copies from
/// and to it run asynchronously and can be captured into CUDA graphs, which
/// pageable memory cannot.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  /// `what` names the allocation in an error.
  PinnedBuffer(size_t bytes, const std::string& what);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& other) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release() noexcept;
  char* data_ = nullptr;
  size_t size_ = 0;
};

/// The work issued on a stream between begin and end, captured once
/// (cuStreamBeginCapture) and instantiated; launch() replays all of it with
/// one call. Nothing captured runs until the first launch.
class CapturedGraph {
 public:
  CapturedGraph() = default;
  ~CapturedGraph();
  CapturedGraph(CapturedGraph&& other) noexcept;
  CapturedGraph& operator=(CapturedGraph&& other) noexcept;
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;

  /// Calls `issue(stream)` under capture and instantiates what it issued.
  /// Throws dlc::Error when the driver refuses (the stream is then out of
  /// capture mode again, with nothing issued on it).
  template <typename Issue> static CapturedGraph capture(CUstream stream, Issue&& issue) {
    begin(stream);
    try {
      issue(stream);
    } catch (...) {
      abandon(stream);
      throw;
    }
    return end(stream);
  }

  bool empty() const { return exec_ == nullptr; }
  /// Replays the graph on `stream`.
  void launch(CUstream stream) const;

 private:
  static void begin(CUstream stream);
  static void abandon(CUstream stream) noexcept;
  static CapturedGraph end(CUstream stream);
  CUgraphExec exec_ = nullptr;
};

/// Generated code loaded into the current context: the cubin, or the PTX
/// (compiled by the driver for this GPU) when the cubin is not for it.
class Module {
 public:
  /// Throws dlc::Error when neither loads, with the driver's reason for each.
  Module(const std::string& cubin, const std::string& ptx);
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// True when the cubin was not usable and the PTX was loaded instead.
  bool from_ptx() const { return from_ptx_; }
  /// The kernel `symbol`; throws dlc::Error naming it when missing.
  CUfunction function(const std::string& symbol) const;
  /// The kernel `symbol`, or nullptr when this module lacks it.
  CUfunction find_function(const std::string& symbol) const;
  /// The __device__ variable `symbol`: its address and size in bytes.
  CUdeviceptr global(const std::string& symbol, size_t* bytes) const;

 private:
  CUmodule module_ = nullptr;
  bool from_ptx_ = false;
};

}  // namespace dlc::cuda
