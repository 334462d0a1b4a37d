#include "runtime/cuda/cuda_executor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kernel/kernel_ir.h"
#include "ir/error.h"
#include "runtime/collectives/host_all_reduce.h"
#include "runtime/collectives/process_group.h"
#include "runtime/cpu_executor.h"
#include "runtime/cuda/cublas_library.h"
#include "kernel/cuda_abi.h"
#include "runtime/cuda/cuda_driver.h"
#include "runtime/cuda/cuda_resources.h"
#include "runtime/program_io.h"

namespace dlc {
namespace {

using cuda::CapturedGraph;
using cuda::DeviceBuffer;
using cuda::PinnedBuffer;

/// cuBLAS's scratch, given to it up front (cuda_resources.h CublasHandle).
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;

/// What a step issues besides its body: its kernel and its threads.
struct StepLaunch {
  CUfunction fn = nullptr;
  int64_t threads = 0;  // cuda_abi::step_threads
  bool staged = false;  // a copy whose source and destination bytes overlap
};

/// An input or output buffer and where its bytes sit in the pinned staging.
struct Staged {
  int buffer = -1;
  size_t offset = 0, bytes = 0;
};

struct LoadedProgram {
  Program program;
  const proto::EntryPoint* entry = nullptr;
  std::vector<CUdeviceptr> pointers;  // per buffer
  std::vector<DeviceBuffer> owned;    // inputs, outputs and constants
  DeviceBuffer table;                 // `pointers` on the device: the kernels' `buffers`
  std::vector<StepLaunch> launches;   // per step
  // Inputs are copied into `staging` (pinned) and from there to the device,
  // outputs back the same way: copies from pinned memory are asynchronous
  // and can be part of a CUDA graph.
  PinnedBuffer staging;
  std::vector<Staged> inputs, outputs;
  // The whole call (input copies, every step, output copies) as one CUDA
  // graph, captured after the first call; replayed by every later one.
  CapturedGraph graph;
  bool capturable = true;     // false when a step needs the host mid-way
  std::string graph_refused;  // why capture failed; the steps then run one by one
};

/// DLC_CUDA_GRAPHS=0 runs every call step by step (to compare, or to rule
/// the graphs out when looking for a fault).
bool graphs_wanted() {
  const char* env = std::getenv("DLC_CUDA_GRAPHS");
  return !(env && std::string(env) == "0");
}


/// Host -> device on `stream`. The driver has taken its own copy of pageable
/// `src` when the call returns, so the caller may reuse it at once.
void upload(CUdeviceptr dst, const void* src, size_t bytes, CUstream stream) {
  if (bytes > 0) DLC_CU(cuMemcpyHtoDAsync, dst, src, bytes, stream);
}

/// Device -> host on `stream`; the bytes are there once the stream is synchronized.
void download(void* dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  if (bytes > 0) DLC_CU(cuMemcpyDtoHAsync, dst, src, bytes, stream);
}

/// The GPU of this process: in a data-parallel run of several processes,
/// its index among those on its machine (modulo the GPUs there), so each
/// process has a GPU of its own where there are enough; else device 0.
int device_ordinal(const proto::Executable& exe) {
  if (!exe.data_parallel() || launched_process_count() <= 1) return 0;
  int count = 0;
  DLC_CU(cuDeviceGetCount, &count);
  return count > 0 ? ProcessGroup::get().local_rank() % count : 0;
}

class CudaExecutor : public ObservableExecutor {
 public:
  /// `programs` are exe's, already read and checked.
  CudaExecutor(const proto::Executable& exe, std::vector<Program> programs)
      : context_(device_ordinal(exe)),
        blas_workspace_(kCublasWorkspaceBytes, "cuBLAS's workspace"),
        blas_(stream_.get(), blas_workspace_.ptr(), kCublasWorkspaceBytes),
        seed_(exe.seed()),
        group_(exe.data_parallel() ? &ProcessGroup::get() : nullptr),
        step_word_(sizeof(uint64_t), "the step number"),
        step_staging_(sizeof(uint64_t), "the step number"),
        graphs_wanted_(graphs_wanted()) {
    // The first module holds the fingerprint; kernels may be in any.
    modules_.push_back(std::make_unique<cuda::Module>(exe.code(), exe.ptx()));
    for (const auto& m : exe.more_modules()) modules_.push_back(std::make_unique<cuda::Module>(m.code(), m.ptx()));
    for (const auto& in : exe.graph().inputs())
      if (in.role() == proto::STEP) step_input_ = in.name();
    check_fingerprint(programs);
    if (group_) seed_ = process_seed(seed_, group_->rank());
    load_state(exe);
    int64_t arena_bytes = 0;
    for (const auto& p : programs) arena_bytes = std::max(arena_bytes, p.arena_bytes);
    arena_ = DeviceBuffer(static_cast<size_t>(arena_bytes), "the temp arena");
    for (const auto& ep : exe.entry_points()) entries_[ep.name()] = ep;
    for (auto& p : programs) load_program(std::move(p));
    for (const auto& [name, ep] : entries_)
      if (!programs_.count(name)) throw Error("the cuda executable has no kernel program for entry point '" + name + "'");
    if (staging_bytes_ > 0) staging_ = DeviceBuffer(static_cast<size_t>(staging_bytes_), "overlapping copies");
    stream_.synchronize();  // constants and tables are in place before the first run
  }

  ~CudaExecutor() override {
    // Members release their device objects next, in the context; make it
    // current on this thread and let queued work finish first.
    try {
      context_.make_current();
      stream_.synchronize();
    } catch (...) {  // a failed device: the releases below fail quietly too
    }
  }

  const Program* program(const std::string& entry) const override {
    auto it = programs_.find(entry);
    return it == programs_.end() ? nullptr : &it->second.program;
  }

  void run_observed(const std::string& entry, const std::map<std::string, HostTensor>& inputs,
                    std::map<std::string, HostTensor>* outputs, const StepObserver& after_step) override {
    auto it = programs_.find(entry);
    if (it == programs_.end()) throw Error("the executable has no entry point '" + entry + "'");
    LoadedProgram& lp = it->second;
    context_.make_current();
    stage_inputs(lp, inputs);
    if (after_step) {
      run_observing(lp, after_step);
    } else if (!lp.graph.empty()) {
      lp.graph.launch(stream_.get());
    } else {
      issue_call(lp);
      if (graphs_wanted_ && lp.capturable && lp.graph_refused.empty()) capture(lp);
    }
    stream_.synchronize();
    std::map<std::string, HostTensor> result;
    for (const Staged& o : lp.outputs) {
      const Buffer& b = lp.program.buffers[o.buffer];
      HostTensor h;
      h.type = TensorType{b.dtype, b.dims};
      h.bytes.assign(lp.staging.data() + o.offset, lp.staging.data() + o.offset + o.bytes);
      result[b.name] = std::move(h);
    }
    if (outputs) *outputs = std::move(result);
  }

  HostTensor get_state(const std::string& name) const override {
    auto it = state_.find(name);
    if (it == state_.end()) throw Error("'" + name + "' is not a persistent tensor of the executable");
    context_.make_current();
    HostTensor h(state_types_.at(name));
    download(h.bytes.data(), it->second.ptr(), h.bytes.size(), stream_.get());
    stream_.synchronize();
    return h;
  }

  void set_state(const std::string& name, const HostTensor& value) override {
    auto it = state_.find(name);
    if (it == state_.end()) throw Error("'" + name + "' is not a persistent tensor of the executable");
    check_state_value(name, state_types_.at(name), value);
    context_.make_current();
    upload(it->second.ptr(), value.bytes.data(), value.bytes.size(), stream_.get());
    stream_.synchronize();
  }

 private:
  /// The code must come from these very programs: kernels bake in their
  /// sizes and index maps, and would run over wrong buffers otherwise.
  void check_fingerprint(const std::vector<Program>& programs) {
    size_t bytes = 0;
    CUdeviceptr where = modules_.front()->global(cuda_abi::kFingerprintSymbol, &bytes);
    uint64_t fingerprint = 0;
    if (bytes != sizeof(fingerprint))
      throw Error("the cuda code's " + std::string(cuda_abi::kFingerprintSymbol) + " has " + std::to_string(bytes) +
                  " bytes, expected 8");
    DLC_CU(cuMemcpyDtoH, &fingerprint, where, sizeof(fingerprint));
    if (fingerprint != program_fingerprint(programs))
      throw Error("the cuda code was not generated from this executable's kernel programs (fingerprint mismatch)");
  }

  void load_state(const proto::Executable& exe) {
    for (const auto& p : exe.graph().params()) {
      TensorType t = from_proto(p.type());
      state_types_[p.name()] = t;
      state_[p.name()] = DeviceBuffer(static_cast<size_t>(t.numel() * dtype_size(t.dtype)), "parameter '" + p.name() + "'");
    }
    for (const auto& init : exe.initial_params()) {
      auto it = state_.find(init.name());
      if (it == state_.end()) continue;  // validate_executable has matched names and sizes
      const TensorType& t = state_types_.at(init.name());
      if (static_cast<int64_t>(init.data().size()) != t.numel() * dtype_size(t.dtype))
        throw Error("initial value of '" + init.name() + "' has the wrong size");
      upload(it->second.ptr(), init.data().data(), init.data().size(), stream_.get());
    }
  }

  void load_program(Program p) {
    const std::string entry = p.entry;
    auto ep = entries_.find(entry);
    if (ep == entries_.end()) return;  // a program no entry point runs
    LoadedProgram& lp = programs_[entry];
    lp.entry = &ep->second;
    lp.pointers.assign(p.buffers.size(), 0);
    for (const Buffer& b : p.buffers) {
      std::string where = "program '" + entry + "' buffer '" + b.name + "'";
      switch (b.kind) {
        case BufferKind::temp: lp.pointers[b.id] = arena_.ptr() + static_cast<CUdeviceptr>(b.offset); break;
        case BufferKind::state:
          check_state_buffer(entry, b, state_types_);
          lp.pointers[b.id] = state_.at(b.name).ptr();
          break;
        case BufferKind::input:
        case BufferKind::output:
        case BufferKind::constant:
          lp.owned.emplace_back(static_cast<size_t>(b.bytes()), where);
          lp.pointers[b.id] = lp.owned.back().ptr();
          if (b.kind == BufferKind::constant) upload_constant(b, lp.pointers[b.id]);
          break;
      }
    }
    for (const auto& name : lp.entry->outputs())
      if (p.find_buffer(BufferKind::output, name) < 0)
        throw Error("program '" + entry + "' has no output buffer for '" + name + "'");
    lp.table = DeviceBuffer(lp.pointers.size() * sizeof(CUdeviceptr), "the buffer table of '" + entry + "'");
    // Synchronous: `pointers` is the source and the table never changes.
    if (!lp.pointers.empty())
      DLC_CU(cuMemcpyHtoD, lp.table.ptr(), lp.pointers.data(), lp.pointers.size() * sizeof(CUdeviceptr));
    lp.launches.resize(p.steps.size());
    for (size_t i = 0; i < p.steps.size(); ++i) {
      const Step& s = p.steps[i];
      StepLaunch& l = lp.launches[i];
      if (auto* cp = s.copy()) {
        l.staged = copy_overlaps(lp, p, *cp);
        if (l.staged) staging_bytes_ = std::max(staging_bytes_, cp->numel * dtype_size(p.buffers[cp->src].dtype));
      }
      // dlc compile --target cuda expands convolutions into im2col + GEMM.
      if (s.conv())
        throw Error("program '" + entry + "' step " + std::to_string(i) +
                    " is a convolution library call, which the cuda executor cannot run (dlc compile --target cuda "
                    "expands convolutions into im2col + GEMM; this program was not made that way)");
      if (auto* g = s.gemm(); g && g->k == 0) lp.capturable = false;  // scale_c_on_host
      if (s.all_reduce() && group_ && group_->size() > 1) lp.capturable = false;  // through the host
      if (!cuda_abi::has_kernel(s)) continue;
      std::string sym = cuda_abi::kernel_symbol(entry, i);
      l.fn = find_function(sym);
      l.threads = cuda_abi::step_threads(s);
    }
    stage_layout(lp, p);
    lp.program = std::move(p);
  }

  /// Where each input and output sits in the pinned staging, 16-byte aligned.
  static void stage_layout(LoadedProgram& lp, const Program& p) {
    size_t end = 0;
    auto place = [&](const Buffer& b) {
      Staged s{b.id, end, static_cast<size_t>(b.bytes())};
      end += (s.bytes + 15) / 16 * 16;
      return s;
    };
    for (const Buffer& b : p.buffers)
      if (b.kind == BufferKind::input) lp.inputs.push_back(place(b));
    for (const auto& name : lp.entry->outputs()) lp.outputs.push_back(place(p.buffers[p.find_buffer(BufferKind::output, name)]));
    lp.staging = PinnedBuffer(end, "the inputs and outputs of '" + p.entry + "'");
  }

  /// The kernel `symbol` from the module that holds it.
  CUfunction find_function(const std::string& symbol) {
    for (size_t n = 0; n < modules_.size(); ++n) {
      size_t i = (last_module_ + n) % modules_.size();
      if (CUfunction fn = modules_[i]->find_function(symbol)) {
        last_module_ = i;
        return fn;
      }
    }
    return modules_.front()->function(symbol);  // throws, naming the symbol
  }

  /// True when the bytes a copy reads and writes overlap (the same buffer,
  /// or temps sharing arena bytes): cuMemcpyDtoD is undefined then.
  static bool copy_overlaps(const LoadedProgram& lp, const Program& p, const CopyStep& cp) {
    const int64_t size = dtype_size(p.buffers[cp.src].dtype);
    const CUdeviceptr src = lp.pointers[cp.src] + cp.src_offset * size, dst = lp.pointers[cp.dst] + cp.dst_offset * size;
    const CUdeviceptr bytes = static_cast<CUdeviceptr>(cp.numel * size);
    return cp.numel > 0 && src < dst + bytes && dst < src + bytes;
  }

  void upload_constant(const Buffer& b, CUdeviceptr dst) {
    HostTensor h = constant_contents(b);
    upload(dst, h.bytes.data(), h.bytes.size(), stream_.get());
    stream_.synchronize();  // `h` goes away at the return
  }

  /// Checks every input (a refused call changes nothing), then copies them
  /// and the step number into pinned staging; issue_call takes them from there.
  void stage_inputs(LoadedProgram& lp, const std::map<std::string, HostTensor>& inputs) {
    check_program_inputs(lp.program, *lp.entry, inputs);
    for (const Staged& in : lp.inputs) {
      const HostTensor& h = inputs.at(lp.program.buffers[in.buffer].name);
      if (in.bytes > 0) std::memcpy(lp.staging.data() + in.offset, h.bytes.data(), in.bytes);
    }
    step_ = step_from_inputs(inputs, step_input_, step_);
    std::memcpy(step_staging_.data(), &step_, sizeof(step_));
  }

  /// The inputs and the step number to the device, every step, the outputs
  /// back to staging: a whole call, all of it on the stream (so it can be
  /// captured as is).
  void issue_call(const LoadedProgram& lp) {
    issue_inputs(lp);
    for (size_t i = 0; i < lp.program.steps.size(); ++i) run_step(lp, i);
    issue_outputs(lp);
  }

  void issue_inputs(const LoadedProgram& lp) {
    for (const Staged& in : lp.inputs) upload(lp.pointers[in.buffer], lp.staging.data() + in.offset, in.bytes, stream_.get());
    upload(step_word_.ptr(), step_staging_.data(), sizeof(uint64_t), stream_.get());
  }

  void issue_outputs(const LoadedProgram& lp) {
    for (const Staged& o : lp.outputs) download(lp.staging.data() + o.offset, lp.pointers[o.buffer], o.bytes, stream_.get());
  }

  /// A call step by step, `after_step` seeing the buffers after each (--verify-fusion).
  void run_observing(const LoadedProgram& lp, const StepObserver& after_step) {
    BufferReader read = [&](int id) {
      if (id < 0 || id >= static_cast<int>(lp.program.buffers.size()))
        throw Error("buffer " + std::to_string(id) + " is not in program '" + lp.program.entry + "'");
      return read_buffer(lp, id);
    };
    issue_inputs(lp);
    for (size_t i = 0; i < lp.program.steps.size(); ++i) {
      run_step(lp, i);
      stream_.synchronize();
      after_step(static_cast<int>(i), read);
    }
    issue_outputs(lp);
  }

  /// Captures a call into lp.graph after the first one has run (cuBLAS has
  /// picked and loaded its kernels by then). When the driver refuses, says
  /// so once and runs this program's calls step by step from then on.
  void capture(LoadedProgram& lp) {
    stream_.synchronize();
    try {
      lp.graph = CapturedGraph::capture(stream_.get(), [&](CUstream) { issue_call(lp); });
    } catch (const Error& e) {
      lp.graph_refused = e.what();
      std::fprintf(stderr, "dlc cuda: '%s' runs step by step: capturing it as a CUDA graph failed: %s\n",
                   lp.program.entry.c_str(), e.what());
    }
  }

  /// Buffer `id` as it is on the device now (after the work issued so far).
  HostTensor read_buffer(const LoadedProgram& lp, int id) const {
    const Buffer& b = lp.program.buffers[id];
    HostTensor h(TensorType{b.dtype, b.dims});
    download(h.bytes.data(), lp.pointers[id], h.bytes.size(), stream_.get());
    stream_.synchronize();
    return h;
  }

  void launch(const LoadedProgram& lp, CUfunction fn, int64_t threads) {
    if (threads <= 0) return;
    CUdeviceptr table = lp.table.ptr();
    long long count = threads;
    unsigned long long seed = seed_;        // dropout masks: the seed, and
    CUdeviceptr step = step_word_.ptr();    // the step number, read on the device
    void* args[] = {&table, &count, &seed, &step};
    DLC_CU(cuLaunchKernel, fn, static_cast<unsigned>(cuda_abi::blocks_for(threads)), 1, 1,
           static_cast<unsigned>(cuda_abi::kThreadsPerBlock), 1, 1, 0, stream_.get(), args, nullptr);
  }

  void run_step(const LoadedProgram& lp, size_t index) {
    const Step& s = lp.program.steps[index];
    const StepLaunch& l = lp.launches[index];
    if (s.loop()) {
      launch(lp, l.fn, l.threads);
    } else if (auto* g = s.gemm()) {
      run_gemm(lp, *g);
      if (l.fn) launch(lp, l.fn, l.threads);
    } else if (auto* cp = s.copy()) {
      run_copy(lp, *cp, l.staged);
    } else if (auto* r = s.all_reduce()) {
      run_all_reduce(lp, *r);
    }
  }

  // One process: the mean is a copy. Several: the bucket goes between the
  // GPUs through the NCCL engine (reduce_on_device), or, where that engine
  // cannot be loaded or a value is not f32, through host memory and MPI.
  void run_all_reduce(const LoadedProgram& lp, const AllReduceStep& r) {
    const Program& p = lp.program;
    if (!group_ || group_->size() == 1) {
      for (size_t k = 0; k < r.src.size(); ++k)
        if (int64_t bytes = p.buffers[r.src[k]].bytes(); bytes > 0 && r.dst[k] != r.src[k])
          DLC_CU(cuMemcpyDtoDAsync, lp.pointers[r.dst[k]], lp.pointers[r.src[k]], static_cast<size_t>(bytes), stream_.get());
      return;
    }
    bool all_f32 = true;
    for (int b : r.src) all_f32 &= p.buffers[b].dtype == DType::f32;
    if (dlrt_collective_engine* nccl = all_f32 ? device_engine() : nullptr) {
      reduce_on_device(lp, r, *nccl);
      return;
    }
    std::vector<std::vector<uint8_t>> host(p.buffers.size());
    std::vector<void*> pointers(p.buffers.size(), nullptr);
    for (size_t k = 0; k < r.src.size(); ++k)
      for (int b : {r.src[k], r.dst[k]}) {
        host[b].resize(static_cast<size_t>(p.buffers[b].bytes()));
        pointers[b] = host[b].data();
      }
    for (int b : r.src) download(pointers[b], lp.pointers[b], host[b].size(), stream_.get());
    stream_.synchronize();
    host_all_reduce_.run(p, r, pointers.data(), *group_);
    for (int b : r.dst) upload(lp.pointers[b], pointers[b], host[b].size(), stream_.get());
    stream_.synchronize();  // the host vectors go when this returns
  }

  /// The NCCL engine, loaded on the first data-parallel step; null (said
  /// once on stderr) when it cannot be, and the host path serves.
  dlrt_collective_engine* device_engine() {
    if (!device_engine_tried_) {
      device_engine_tried_ = true;
      try {
        context_.make_current();  // NCCL takes the device of the current context
        device_engine_ = &group_->device_engine();
      } catch (const Error& e) {
        std::fprintf(stderr, "dlrt: %s\n(the data-parallel bucket goes through host memory and MPI instead)\n", e.what());
      }
    }
    return device_engine_;
  }

  // The host path's algorithm on the GPUs: the sources packed into one
  // bucket, an all-to-all gives this process block `rank` of every
  // process's bucket, cuBLAS sums the blocks in rank order (so every
  // process gets the same bits) and scales by 1/P, and an all-gather
  // returns every block to every process.
  void reduce_on_device(const LoadedProgram& lp, const AllReduceStep& r, dlrt_collective_engine& e) {
    const auto start = std::chrono::steady_clock::now();
    const Program& p = lp.program;
    const int64_t procs = group_->size();
    int64_t n = 0;
    for (int b : r.src) n += p.buffers[b].numel;
    const int64_t block = (n + procs - 1) / procs;
    const int64_t block_bytes = block * static_cast<int64_t>(sizeof(float));
    const size_t bucket_bytes = static_cast<size_t>(procs * block_bytes);
    if (bucket_.size() < bucket_bytes) {
      bucket_ = DeviceBuffer(bucket_bytes, "the data-parallel bucket");
      parts_ = DeviceBuffer(bucket_bytes, "the data-parallel bucket's blocks");
      block_sum_ = DeviceBuffer(static_cast<size_t>(block_bytes), "the data-parallel block sum");
      DLC_CU(cuMemsetD8, bucket_.ptr(), 0, bucket_bytes);  // the padding past n: summed, never read
    }
    CUstream s = stream_.get();
    int64_t at = 0;
    for (int b : r.src) {
      const int64_t bytes = p.buffers[b].bytes();
      if (bytes > 0) DLC_CU(cuMemcpyDtoDAsync, bucket_.ptr() + at, lp.pointers[b], static_cast<size_t>(bytes), s);
      at += bytes;
    }
    char err[512] = {};
    auto device = [](CUdeviceptr ptr) { return reinterpret_cast<void*>(ptr); };
    if (e.all_to_all(device(bucket_.ptr()), device(parts_.ptr()), block_bytes, s, 0, err, sizeof err) != 0)
      throw Error(std::string("all_reduce_mean (all-to-all): ") + err);
    DLC_CU(cuMemcpyDtoDAsync, block_sum_.ptr(), parts_.ptr(), static_cast<size_t>(block_bytes), s);
    for (int64_t q = 1; q < procs; ++q) blas_.saxpy(block, 1.0f, parts_.ptr() + q * block_bytes, block_sum_.ptr());
    blas_.sscal(block, 1.0f / static_cast<float>(procs), block_sum_.ptr());
    if (e.all_gather(device(block_sum_.ptr()), device(bucket_.ptr()), block_bytes, s, 0, err, sizeof err) != 0)
      throw Error(std::string("all_reduce_mean (all-gather): ") + err);
    at = 0;
    for (size_t k = 0; k < r.src.size(); ++k) {
      const int64_t bytes = p.buffers[r.src[k]].bytes();
      if (bytes > 0) DLC_CU(cuMemcpyDtoDAsync, lp.pointers[r.dst[k]], bucket_.ptr() + at, static_cast<size_t>(bytes), s);
      at += bytes;
    }
    wait_for_the_others(start);
    group_->count_reduce(2 * (procs - 1) * block_bytes,
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }

  /// Waits for the stream, as long as the run's collective deadline allows:
  /// NCCL's kernels wait for ever for a process that is gone.
  void wait_for_the_others(std::chrono::steady_clock::time_point start) {
    const cuda::DriverApi& api = cuda::driver();
    for (;;) {
      CUresult r = api.cuStreamQuery(stream_.get());
      if (r == CUDA_SUCCESS) return;
      if (r != CUDA_ERROR_NOT_READY) cuda::check(r, "cuStreamQuery");
      double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (waited > group_->timeout())
        throw Error("all_reduce_mean: no answer from the other processes within " +
                    std::to_string(static_cast<int64_t>(group_->timeout())) +
                    " s (one died, hangs or is unreachable; DLRT_COLLECTIVE_TIMEOUT sets the limit)");
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  void run_copy(const LoadedProgram& lp, const CopyStep& cp, bool staged) {
    const int64_t size = dtype_size(lp.program.buffers[cp.src].dtype);
    const size_t bytes = static_cast<size_t>(cp.numel * size);
    if (bytes == 0) return;
    const CUdeviceptr src = lp.pointers[cp.src] + cp.src_offset * size, dst = lp.pointers[cp.dst] + cp.dst_offset * size;
    if (!staged) {
      DLC_CU(cuMemcpyDtoDAsync, dst, src, bytes, stream_.get());
      return;
    }
    DLC_CU(cuMemcpyDtoDAsync, staging_.ptr(), src, bytes, stream_.get());
    DLC_CU(cuMemcpyDtoDAsync, dst, staging_.ptr(), bytes, stream_.get());
  }

  void run_gemm(const LoadedProgram& lp, const GemmCall& g) {
    if (g.m == 0 || g.n == 0 || g.batch == 0) return;
    auto base = [&](const GemmOperand& o) { return lp.pointers[o.buffer] + o.offset * sizeof(float); };
    if (g.k == 0) {
      scale_c_on_host(lp, g);
      return;
    }
    blas_.sgemm_row_major(g.a.trans, g.b.trans, g.m, g.n, g.k, static_cast<float>(g.alpha), base(g.a), g.a.ld,
                          g.a.batch_stride, base(g.b), g.b.ld, g.b.batch_stride, static_cast<float>(g.beta), base(g.c),
                          g.c.ld, g.c.batch_stride, g.batch);
  }

  // An empty inner dimension leaves C = beta C (0 where beta is 0, even over
  // NaN). cuBLAS refuses some layouts with k = 0 and models never have one,
  // so it is done on the host, over the span of C's rows.
  void scale_c_on_host(const LoadedProgram& lp, const GemmCall& g) {
    const int64_t span = (g.batch - 1) * g.c.batch_stride + (g.m - 1) * g.c.ld + g.n;
    const CUdeviceptr c = lp.pointers[g.c.buffer] + g.c.offset * sizeof(float);
    std::vector<float> host(static_cast<size_t>(span));
    download(host.data(), c, host.size() * sizeof(float), stream_.get());
    stream_.synchronize();
    for (int64_t bi = 0; bi < g.batch; ++bi)
      for (int64_t i = 0; i < g.m; ++i)
        for (int64_t j = 0; j < g.n; ++j) {
          float& v = host[static_cast<size_t>(bi * g.c.batch_stride + i * g.c.ld + j)];
          v = g.beta == 0 ? 0.0f : static_cast<float>(g.beta) * v;
        }
    upload(c, host.data(), host.size() * sizeof(float), stream_.get());
  }

  // Declaration order is construction order: the context first, and last to go.
  cuda::PrimaryContext context_;
  cuda::Stream stream_;
  DeviceBuffer blas_workspace_;
  cuda::CublasHandle blas_;
  std::vector<std::unique_ptr<cuda::Module>> modules_;
  size_t last_module_ = 0;  // where the previous kernel was: kernels are in program order
  uint64_t seed_ = 0;
  ProcessGroup* group_ = nullptr;  // data-parallel executables: the run's processes
  HostAllReduce host_all_reduce_;
  bool device_engine_tried_ = false;
  dlrt_collective_engine* device_engine_ = nullptr;  // NCCL, when it loaded
  DeviceBuffer bucket_, parts_, block_sum_;            // reduce_on_device's
  uint64_t step_ = 0;
  DeviceBuffer step_word_;     // the step number the kernels read (cuda_abi.h)
  PinnedBuffer step_staging_;  // ...copied from here with each call's inputs
  bool graphs_wanted_ = true;
  std::string step_input_;
  std::map<std::string, DeviceBuffer> state_;
  std::map<std::string, TensorType> state_types_;
  DeviceBuffer arena_;
  int64_t staging_bytes_ = 0;
  DeviceBuffer staging_;  // for copies whose ranges overlap
  std::map<std::string, proto::EntryPoint> entries_;
  std::map<std::string, LoadedProgram> programs_;
};

}  // namespace

std::unique_ptr<Executor> make_cuda_executor(const proto::Executable& exe) {
  // A file without code is wrong on every machine: say so before the driver
  // (which may be missing) is involved.
  if (exe.code().empty() && exe.ptx().empty()) throw Error("the cuda executable has no code (neither cubin nor PTX)");
  for (int i = 0; i < exe.more_modules_size(); ++i)
    if (exe.more_modules(i).code().empty() && exe.more_modules(i).ptx().empty())
      throw Error("the cuda executable's module " + std::to_string(i + 1) + " has no code (neither cubin nor PTX)");
  std::vector<Program> programs;
  for (const auto& p : exe.programs()) programs.push_back(program_from_proto(p));
  return std::make_unique<CudaExecutor>(exe, std::move(programs));
}

}  // namespace dlc
