#include "runtime/cpu_executor.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>

#include "kernel/cpu_features.h"
#include "kernel/kernel_ir.h"
#include "ir/error.h"
#include "runtime/collectives/host_all_reduce.h"
#include "runtime/collectives/process_group.h"
#include "runtime/cpu_convolution.h"
#include "runtime/cpu_gemm.h"
#include "runtime/memfd_loader.h"
#include "runtime/program_io.h"
#include "runtime/thread_pool.h"
#include "runtime/work_split.h"

namespace dlc {
namespace {

/// Zeroed, 64-byte aligned bytes (vector loads, no false sharing).
class AlignedBytes {
 public:
  AlignedBytes() = default;
  explicit AlignedBytes(int64_t n) : size_(n) {
    size_t rounded = (static_cast<size_t>(std::max<int64_t>(n, 1)) + 63) / 64 * 64;
    data_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, rounded)));
    if (!data_) throw Error("cannot allocate " + std::to_string(n) + " bytes for the cpu executor");
    std::memset(data_.get(), 0, rounded);
  }
  uint8_t* data() const { return data_.get(); }
  int64_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data_;
  int64_t size_ = 0;
};

/// Native code of one step: the kernel and its parallel range.
struct StepCode {
  cpu_abi::KernelFn fn = nullptr;
  int64_t range = 1;
  int64_t work_per_item = 1;
  /// GEMMs with an epilogue: items of the epilogue's range per row of C when
  /// each block of C's rows can run its epilogue right after its own sgemm
  /// (while the block is in cache, with no barrier between); 0 when not.
  int64_t epilogue_items_per_row = 0;
};

struct LoadedProgram {
  Program program;
  std::vector<StepCode> code;              // per step
  std::map<size_t, CpuConvolution> convolutions;  // per convolution step, by index
  std::vector<void*> pointers;             // per buffer; inputs are bound per run
  std::vector<AlignedBytes> owned;         // outputs and constants
  const proto::EntryPoint* entry = nullptr;
  // The entry point's inputs and outputs in its order, as buffers; made
  // once, so a call binds the caller's memory without a lookup by name.
  std::vector<int> input_ids, output_ids;
  std::vector<void*> owned_outputs;  // per output, the executor's own memory
  int step_index = -1;               // the STEP input among the inputs, or -1
};

/// True when [a, a+na) and [b, b+nb) share a byte.
bool ranges_overlap(const void* a, int64_t na, const void* b, int64_t nb) {
  auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return na > 0 && nb > 0 && x < y + static_cast<uintptr_t>(nb) && y < x + static_cast<uintptr_t>(na);
}

/// memcpy that accepts the null data pointer of an empty tensor.
void copy_bytes(void* dst, const void* src, size_t n) {
  if (n > 0) std::memcpy(dst, src, n);
}


/// True when buffers `x` and `y` may share bytes: the same buffer, or two
/// temps whose arena ranges overlap.
bool may_overlap(const Program& p, int x, int y) {
  if (x < 0 || y < 0) return false;
  if (x == y) return true;
  const Buffer& a = p.buffers[static_cast<size_t>(x)];
  const Buffer& b = p.buffers[static_cast<size_t>(y)];
  return a.kind == BufferKind::temp && b.kind == BufferKind::temp && a.offset < b.offset + b.bytes() &&
         b.offset < a.offset + a.bytes();
}

int64_t epilogue_items_per_row(const Program& p, const GemmCall& g, int64_t range) {
  const LoopKernel& e = g.epilogue;
  // Only where run_gemm would cut C into row blocks anyway: for a wide C,
  // column blocks let each thread pack only its share of B.
  if (g.batch != 1 || g.m < g.n || g.k <= 0 || e.reduces()) return 0;
  if (e.dims != std::vector<int64_t>{g.m, g.n}) return 0;
  // The emitter's parallel range is C's rows, or its elements when the
  // loop nest was flattened (then item i is element i of dense C).
  int64_t per_row = range == g.m ? 1 : range == g.m * g.n && g.c.ld == g.n ? g.n : 0;
  if (per_row == 0) return 0;
  // Another block's sgemm must never see an epilogue's write: no store may
  // touch A or B, and C may only be read or written at the element itself.
  const std::vector<int64_t> own_element = {g.c.ld, 1};
  auto touches_c_elsewhere = [&](const Access& a) {
    return may_overlap(p, a.buffer, g.c.buffer) &&
           !(a.buffer == g.c.buffer && a.offset == g.c.offset && a.strides == own_element);
  };
  for (const Store& st : e.stores)
    if (may_overlap(p, st.at.buffer, g.a.buffer) || may_overlap(p, st.at.buffer, g.b.buffer) ||
        touches_c_elsewhere(st.at))
      return 0;
  for (const Access& l : e.loads)
    if (l.reads_memory() && touches_c_elsewhere(l)) return 0;
  return per_row;
}

/// Refuses code that uses instruction-set extensions this machine lacks
/// (it would die on an illegal instruction).
void check_cpu_features(const proto::Executable& exe) {
  std::vector<std::string> missing =
      missing_cpu_features(std::vector<std::string>(exe.cpu_features().begin(), exe.cpu_features().end()));
  if (missing.empty()) return;
  std::string names;
  for (const auto& f : missing) names += (names.empty() ? "" : ", ") + f;
  throw Error("its cpu code was generated for CPU '" + exe.cpu() + "' and uses " + names +
              ", which this machine lacks; compile the model here with --cpu native, or with --cpu x86-64-v2 "
              "(the default) to run on any x86-64");
}

class CpuExecutor : public ObservableExecutor {
 public:
  CpuExecutor(const proto::Executable& exe, int threads)
      : pool_(threads > 0 ? threads : ThreadPool::default_threads()), seed_(exe.seed()) {
    // The pool owns the parallelism; see the header.
    openblas_set_num_threads(1);
    if (exe.code().empty()) throw Error("the cpu executable has no code");
    check_cpu_features(exe);
    library_ = MemoryLibrary::load(exe.code(), "cpu kernels");
    for (const auto& in : exe.graph().inputs())
      if (in.role() == proto::STEP) {
        step_input_ = in.name();
        step_dtype_ = from_proto(in.type()).dtype;
        if (from_proto(in.type()).numel() != 1) step_input_.clear();  // as step_from_inputs: no step number
      }
    load_state(exe);
    int64_t arena_bytes = 0;
    for (const auto& p : exe.programs()) arena_bytes = std::max(arena_bytes, p.arena_bytes());
    arena_ = AlignedBytes(arena_bytes);
    for (const auto& ep : exe.entry_points()) entries_[ep.name()] = ep;
    std::vector<Program> programs;
    for (const auto& p : exe.programs()) programs.push_back(program_from_proto(p));
    const auto* fingerprint = static_cast<const uint64_t*>(library_->symbol(cpu_abi::kFingerprintSymbol));
    if (*fingerprint != program_fingerprint(programs))
      throw Error("the cpu code was not generated from this executable's kernel programs (fingerprint mismatch)");
    // A data-parallel step joins the run's other processes; its dropout
    // masks differ between them as between the rows of one big batch.
    bool collectives = exe.data_parallel();
    for (const auto& p : programs) collectives |= p.has_collectives();
    if (collectives) {
      group_ = &ProcessGroup::get();
      seed_ = process_seed(exe.seed(), group_->rank());
    }
    for (auto& p : programs) load_program(std::move(p));
    for (const auto& [name, ep] : entries_)
      if (!programs_.count(name)) throw Error("the cpu executable has no kernel program for entry point '" + name + "'");
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
    bind_inputs(lp, inputs);
    BufferReader read = [&lp](int id) {
      if (id < 0 || id >= static_cast<int>(lp.program.buffers.size()))
        throw Error("buffer " + std::to_string(id) + " is not in program '" + lp.program.entry + "'");
      const Buffer& b = lp.program.buffers[id];
      HostTensor h(TensorType{b.dtype, b.dims});
      copy_bytes(h.bytes.data(), lp.pointers[id], h.bytes.size());
      return h;
    };
    for (size_t i = 0; i < lp.program.steps.size(); ++i) {
      run_step(lp, i);
      if (after_step) after_step(static_cast<int>(i), read);
    }
    if (outputs) {
      outputs->clear();
      for (const auto& name : lp.entry->outputs()) {
        const Buffer& b = lp.program.buffers[lp.program.find_buffer(BufferKind::output, name)];
        (*outputs)[name] = b.numel > 0 ? HostTensor::copy_of(TensorType{b.dtype, b.dims}, lp.pointers[b.id])
                                       : HostTensor(TensorType{b.dtype, b.dims});
      }
    }
  }

  // The caller's inputs are read where they lie, and each wanted output is
  // written straight into the caller's buffer unless it overlaps another
  // tensor of the call (the kernels assume disjoint buffers); such an output
  // is computed in the executor's memory and copied out.
  bool run_bound(const std::string& entry, const void* const* inputs, void* const* outputs) override {
    auto it = programs_.find(entry);
    if (it == programs_.end()) throw Error("the executable has no entry point '" + entry + "'");
    LoadedProgram& lp = it->second;
    const Program& p = lp.program;
    for (size_t i = 0; i < lp.input_ids.size(); ++i)
      if (lp.input_ids[i] >= 0) lp.pointers[lp.input_ids[i]] = const_cast<void*>(inputs[i]);
    if (lp.step_index >= 0) step_ = step_number(step_dtype_, inputs[lp.step_index]);
    auto bytes_of = [&p](int id) { return id < 0 ? 0 : p.buffers[id].bytes(); };
    auto in_place = [&](size_t j) {
      if (!outputs[j]) return false;
      const int64_t n = bytes_of(lp.output_ids[j]);
      for (size_t i = 0; i < lp.input_ids.size(); ++i)
        if (ranges_overlap(outputs[j], n, inputs[i], bytes_of(lp.input_ids[i]))) return false;
      for (size_t k = 0; k < lp.output_ids.size(); ++k)
        if (k != j && outputs[k] && ranges_overlap(outputs[j], n, outputs[k], bytes_of(lp.output_ids[k])))
          return false;
      return true;
    };
    // The executor's own output memory comes back however the run ends.
    struct RestoreOutputs {
      LoadedProgram& lp;
      ~RestoreOutputs() {
        for (size_t j = 0; j < lp.output_ids.size(); ++j) lp.pointers[lp.output_ids[j]] = lp.owned_outputs[j];
      }
    } restore{lp};
    for (size_t j = 0; j < lp.output_ids.size(); ++j)
      if (in_place(j)) lp.pointers[lp.output_ids[j]] = outputs[j];
    const auto first_step = std::chrono::steady_clock::now();
    for (size_t i = 0; i < p.steps.size(); ++i) run_step(lp, i);
    last_kernel_span_ms_ =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - first_step).count();
    for (size_t j = 0; j < lp.output_ids.size(); ++j)
      if (outputs[j] && lp.pointers[lp.output_ids[j]] != outputs[j])
        copy_bytes(outputs[j], lp.pointers[lp.output_ids[j]], static_cast<size_t>(bytes_of(lp.output_ids[j])));
    return true;
  }

  double last_kernel_span_ms() const override { return last_kernel_span_ms_; }

  HostTensor get_state(const std::string& name) const override {
    auto it = state_.find(name);
    if (it == state_.end()) throw Error("'" + name + "' is not a persistent tensor of the executable");
    HostTensor h(state_types_.at(name));
    copy_bytes(h.bytes.data(), it->second.data(), h.bytes.size());
    return h;
  }

  void set_state(const std::string& name, const HostTensor& value) override {
    auto it = state_.find(name);
    if (it == state_.end()) throw Error("'" + name + "' is not a persistent tensor of the executable");
    check_state_value(name, state_types_.at(name), value);
    copy_bytes(it->second.data(), value.bytes.data(), value.bytes.size());
  }

 private:
  void load_state(const proto::Executable& exe) {
    for (const auto& p : exe.graph().params()) {
      TensorType t = from_proto(p.type());
      state_types_[p.name()] = t;
      state_[p.name()] = AlignedBytes(t.numel() * dtype_size(t.dtype));
    }
    for (const auto& init : exe.initial_params()) {
      auto it = state_.find(init.name());
      if (it == state_.end()) continue;  // validate_executable has matched names and sizes
      if (static_cast<int64_t>(init.data().size()) != it->second.size())
        throw Error("initial value of '" + init.name() + "' has the wrong size");
      copy_bytes(it->second.data(), init.data().data(), init.data().size());
    }
  }

  void load_program(Program p) {
    const std::string entry = p.entry;
    auto ep = entries_.find(entry);
    if (ep == entries_.end()) return;  // a program no entry point runs
    LoadedProgram& lp = programs_[entry];
    lp.entry = &ep->second;
    lp.pointers.assign(p.buffers.size(), nullptr);
    for (const Buffer& b : p.buffers) {
      switch (b.kind) {
        case BufferKind::input: break;  // bound per run
        case BufferKind::temp: lp.pointers[b.id] = arena_.data() + b.offset; break;
        case BufferKind::state:
          check_state_buffer(entry, b, state_types_);
          lp.pointers[b.id] = state_.at(b.name).data();
          break;
        case BufferKind::output:
        case BufferKind::constant:
          lp.owned.emplace_back(b.bytes());
          lp.pointers[b.id] = lp.owned.back().data();
          if (b.kind == BufferKind::constant) {
            HostTensor h = constant_contents(b);
            copy_bytes(lp.owned.back().data(), h.bytes.data(), h.bytes.size());
          }
          break;
      }
    }
    for (const auto& name : lp.entry->outputs()) {
      int id = p.find_buffer(BufferKind::output, name);
      if (id < 0) throw Error("program '" + entry + "' has no output buffer for '" + name + "'");
      lp.output_ids.push_back(id);
      lp.owned_outputs.push_back(lp.pointers[id]);
    }
    // An input the program does not read has no buffer (id -1).
    for (const auto& name : lp.entry->inputs()) {
      if (name == step_input_) lp.step_index = static_cast<int>(lp.input_ids.size());
      lp.input_ids.push_back(p.find_buffer(BufferKind::input, name));
    }
    for (const Buffer& b : p.buffers)
      if (b.kind == BufferKind::input && std::find(lp.input_ids.begin(), lp.input_ids.end(), b.id) == lp.input_ids.end())
        throw Error("program '" + entry + "' reads input '" + b.name + "', which its entry point does not take");
    lp.code.resize(p.steps.size());
    for (size_t i = 0; i < p.steps.size(); ++i) {
      const Step& s = p.steps[i];
      const ConvCall* cv = s.conv();
      if (cv && !cv->generated)
        lp.convolutions.emplace(i, CpuConvolution(*cv, "program '" + entry + "' step " + std::to_string(i)));
      bool native = s.loop() || (s.gemm() && s.gemm()->has_epilogue()) || (cv && cv->generated);
      if (!native) continue;
      std::string sym = cpu_abi::kernel_symbol(entry, i);
      StepCode& c = lp.code[i];
      c.fn = reinterpret_cast<cpu_abi::KernelFn>(library_->symbol(sym));
      const auto* range = static_cast<const int64_t*>(library_->symbol(cpu_abi::range_symbol(sym)));
      c.range = range[0];
      c.work_per_item = std::max<int64_t>(1, range[1]);
      if (s.gemm()) c.epilogue_items_per_row = epilogue_items_per_row(p, *s.gemm(), c.range);
    }
    lp.program = std::move(p);
  }

  void bind_inputs(LoadedProgram& lp, const std::map<std::string, HostTensor>& inputs) {
    check_program_inputs(lp.program, *lp.entry, inputs);
    // Kernels never write input buffers (check_program refuses it).
    for (const Buffer& b : lp.program.buffers)
      if (b.kind == BufferKind::input) lp.pointers[b.id] = const_cast<uint8_t*>(inputs.at(b.name).bytes.data());
    step_ = step_from_inputs(inputs, step_input_, step_);
  }

  // Every cut below comes from work_split, which never looks at the thread
  // count: results are the same bits on any number of threads.
  void run_kernel(const LoadedProgram& lp, cpu_abi::KernelFn fn, int64_t range, int64_t work) {
    void* const* ptrs = lp.pointers.data();
    pool_.parallel_for(range, work_split::loop_chunks(range, work),
                       [&](int64_t b, int64_t e) { fn(ptrs, b, e, seed_, step_); });
  }

  void run_step(LoadedProgram& lp, size_t index) {
    const Step& s = lp.program.steps[index];
    const StepCode& c = lp.code[index];
    if (s.loop()) {
      run_kernel(lp, c.fn, c.range, c.work_per_item);
    } else if (auto* g = s.gemm()) {
      if (c.epilogue_items_per_row > 0) {
        run_gemm_with_epilogue(lp, *g, c);
      } else {
        run_gemm(lp, *g);
        if (c.fn) run_kernel(lp, c.fn, c.range, c.work_per_item);
      }
    } else if (auto* cp = s.copy()) {
      int64_t size = dtype_size(lp.program.buffers[cp->src].dtype);
      if (cp->numel > 0)
        std::memmove(static_cast<uint8_t*>(lp.pointers[cp->dst]) + cp->dst_offset * size,
                     static_cast<const uint8_t*>(lp.pointers[cp->src]) + cp->src_offset * size, cp->numel * size);
    } else if (auto* r = s.all_reduce()) {
      all_reduce_.run(lp.program, *r, lp.pointers.data(), *group_);
    } else if (auto* cv = s.conv()) {
      if (cv->generated)
        run_kernel(lp, c.fn, c.range, c.work_per_item);
      else
        lp.convolutions.at(index).run(lp.pointers.data(), pool_);
    }
  }

  /// One sgemm over rows [lo, hi) of C (batch 1).
  void gemm_rows(const LoadedProgram& lp, const GemmCall& g, int64_t lo, int64_t hi) {
    auto base = [&](const GemmOperand& o) { return static_cast<float*>(lp.pointers[o.buffer]) + o.offset; };
    const float* a = base(g.a) + (g.a.trans ? lo : lo * g.a.ld);
    cpu_sgemm(gemm_library_, g.a.trans, g.b.trans, hi - lo, g.n, g.k, static_cast<float>(g.alpha), a, g.a.ld,
              base(g.b), g.b.ld, static_cast<float>(g.beta), base(g.c) + lo * g.c.ld, g.c.ld);
  }

  // Blocks of C's rows, each an sgemm followed by the epilogue on the same
  // rows (epilogue_items_per_row has checked that this is the same result).
  void run_gemm_with_epilogue(const LoadedProgram& lp, const GemmCall& g, const StepCode& c) {
    // The GEMM's cut (rows: epilogue_items_per_row is 0 where gemm_split
    // would cut columns); the epilogue is the smaller part of the work.
    const int parts = work_split::gemm_split(g.m, g.n, g.k).chunks;
    void* const* ptrs = lp.pointers.data();
    const int64_t per_row = c.epilogue_items_per_row;
    pool_.parallel_for(g.m, parts, [&](int64_t lo, int64_t hi) {
      gemm_rows(lp, g, lo, hi);
      c.fn(ptrs, lo * per_row, hi * per_row, seed_, step_);
    });
  }

  // C = alpha op(A) op(B) + beta C, cut into blocks of C's rows (or columns
  // when C is wide) that run as single-threaded BLAS calls on the pool.
  void run_gemm(const LoadedProgram& lp, const GemmCall& g) {
    if (g.m == 0 || g.n == 0) return;
    auto base = [&](const GemmOperand& o) { return static_cast<float*>(lp.pointers[o.buffer]) + o.offset; };
    if (g.k == 0) {  // BLAS rejects a zero leading dimension; C = beta C by hand
      for (int64_t bi = 0; bi < g.batch; ++bi)
        for (int64_t i = 0; i < g.m; ++i)
          for (int64_t j = 0; j < g.n; ++j) {
            float& c = base(g.c)[bi * g.c.batch_stride + i * g.c.ld + j];
            c = g.beta == 0 ? 0.0f : static_cast<float>(g.beta) * c;
          }
      return;
    }
    const work_split::GemmSplit split = work_split::gemm_split(g.m, g.n, g.k);
    const bool split_rows = split.by_rows;
    const int parts = split.chunks;
    for (int64_t bi = 0; bi < g.batch; ++bi) {
      const float* a = base(g.a) + bi * g.a.batch_stride;
      const float* b = base(g.b) + bi * g.b.batch_stride;
      float* c = base(g.c) + bi * g.c.batch_stride;
      pool_.parallel_for(split_rows ? g.m : g.n, parts, [&](int64_t lo, int64_t hi) {
        int64_t m = split_rows ? hi - lo : g.m, n = split_rows ? g.n : hi - lo;
        const float* ab = split_rows ? a + (g.a.trans ? lo : lo * g.a.ld) : a;
        const float* bb = split_rows ? b : b + (g.b.trans ? lo * g.b.ld : lo);
        float* cb = split_rows ? c + lo * g.c.ld : c + lo;
        cpu_sgemm(gemm_library_, g.a.trans, g.b.trans, m, n, g.k, static_cast<float>(g.alpha), ab, g.a.ld, bb,
                  g.b.ld, static_cast<float>(g.beta), cb, g.c.ld);
      });
    }
  }

  ThreadPool pool_;
  double last_kernel_span_ms_ = -1;  // last_kernel_span_ms()
  ProcessGroup* group_ = nullptr;  // set when a program has collectives
  HostAllReduce all_reduce_;
  const GemmLibrary gemm_library_ = gemm_library_from_environment();
  uint64_t seed_ = 0;  // the kernels' seed and step (dropout masks)
  uint64_t step_ = 0;
  std::string step_input_;
  DType step_dtype_ = DType::f32;
  std::unique_ptr<MemoryLibrary> library_;
  AlignedBytes arena_;
  std::map<std::string, AlignedBytes> state_;
  std::map<std::string, TensorType> state_types_;
  std::map<std::string, proto::EntryPoint> entries_;
  std::map<std::string, LoadedProgram> programs_;
};

}  // namespace

std::unique_ptr<Executor> make_cpu_executor(const proto::Executable& exe, int threads) {
  return std::make_unique<CpuExecutor>(exe, threads);
}

}  // namespace dlc
