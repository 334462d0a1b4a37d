// Running the CUDA C that compiler/codegen/cuda generates without a GPU: the
// source compiled as host C++ with tests/cuda_host_prelude.h (one thread
// walks every item), buffers laid out in host memory as the cuda executor
// lays them out on the device, and the steps without a generated kernel
// (GEMMs, copies) done on the host as the executor would.
// Two ways to check it: a whole program run against the reference
// interpreter (run_on_host), or kernel by kernel against the float64
// kernel-IR evaluator (expect_kernels_match_evaluator).
#pragma once

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "compiler/codegen/cuda/cuda_codegen.h"
#include "compiler/codegen/cuda/cuda_source.h"
#include "ir/error.h"
#include "kernel/cuda_abi.h"
#include "runtime/program_io.h"
#include "runtime/ref_executor.h"
#include "tests/cpu_test_util.h"
#include "tests/kernel_test_util.h"
#include "tests/test_util.h"

namespace dlc::test {

using KernelFn = void (*)(char* const* buffers, long long threads, unsigned long long seed,
                          const unsigned long long* step);

/// Runs host-compiled kernel `fn` over `items` items (one lane each on the
/// host), with the step number in memory as the cuda ABI passes it.
inline void call_host_kernel(KernelFn fn, char* const* table, long long items, uint64_t seed, uint64_t step) {
  const unsigned long long in_memory = step;
  fn(table, items, seed, &in_memory);
}

// The run the evaluator's context and the emulated kernels share (dropout masks).
constexpr uint64_t kSeed = 7, kStep = 1;

/// Generated CUDA C compiled by the system C++ compiler into a loaded library.
class HostKernels {
 public:
  explicit HostKernels(const std::string& source) : dir_(temp_dir()) {
    std::string cu = dir_ + "/model.cu", so = dir_ + "/model.so";
    std::ofstream(cu) << source;
    std::string cmd = "c++ -std=c++17 -O1 -shared -fPIC -Wall -Wextra -Werror -include " +
                      source_path("tests/cuda_host_prelude.h") + " -x c++ " + cu + " -o " + so;
    std::string output;
    int status = run_command(cmd, &output);
    if (status != 0) throw Error("host compile failed: " + cmd + "\n" + output);
    handle_ = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) throw Error(std::string("dlopen: ") + dlerror());
  }
  ~HostKernels() {
    if (handle_) dlclose(handle_);
    // Only what it wrote (temp_dir may fall back to /tmp itself); a failed
    // compile throws before this exists, so its source stays for a look.
    std::error_code ignored;
    for (const char* f : {"/model.cu", "/model.so"}) std::filesystem::remove(dir_ + f, ignored);
    std::filesystem::remove(dir_, ignored);  // only if empty
  }
  HostKernels(const HostKernels&) = delete;
  HostKernels& operator=(const HostKernels&) = delete;

  KernelFn get(const std::string& symbol) const {
    void* f = dlsym(handle_, symbol.c_str());
    if (!f) throw Error("no kernel " + symbol);
    return reinterpret_cast<KernelFn>(f);
  }

 private:
  std::string dir_;
  void* handle_ = nullptr;
};

/// Host memory laid out as the cuda executor lays out device memory: one
/// allocation per non-temp buffer, temps in one arena at their offsets.
/// Everything starts as 0xFF bytes (NaN as floats), so a kernel reading
/// memory nobody wrote shows it.
class HostMemory {
 public:
  explicit HostMemory(const Program& p) : p_(p), table_(p.buffers.size()) {
    arena_.assign(static_cast<size_t>(p.arena_bytes / 8 + 1), ~uint64_t{0});
    own_.resize(p.buffers.size());
    for (const Buffer& b : p.buffers) {
      if (b.kind == BufferKind::temp) {
        table_[b.id] = reinterpret_cast<char*>(arena_.data()) + b.offset;
      } else {
        own_[b.id].assign(static_cast<size_t>(b.bytes() / 8 + 1), ~uint64_t{0});
        table_[b.id] = reinterpret_cast<char*>(own_[b.id].data());
      }
    }
  }

  /// Buffer `id` := the elements of `t` converted to the buffer's dtype.
  void write(int id, const Tensor& t) {
    const Buffer& b = p_.buffers[id];
    write(id, to_host(Tensor({b.dtype, b.dims}, t.data)));
  }
  /// Buffer `id` := `h`, whose bytes are elements of the buffer's dtype.
  void write(int id, const HostTensor& h) { std::memcpy(table_[id], h.bytes.data(), h.bytes.size()); }

  HostTensor read_host(int id) const {
    const Buffer& b = p_.buffers[id];
    return HostTensor::copy_of({b.dtype, b.dims}, table_[id]);
  }
  Tensor read(int id) const { return to_tensor(read_host(id)); }

  char* const* table() const { return table_.data(); }

 private:
  const Program& p_;
  std::vector<char*> table_;
  std::vector<uint64_t> arena_;
  std::vector<std::vector<uint64_t>> own_;
};

/// C = alpha * op(A) * op(B) + beta * C in memory, summed in double: what
/// the executor's cuBLAS call leaves before the epilogue.
inline void host_gemm(const GemmCall& g, HostMemory& mem) {
  Tensor a = mem.read(g.a.buffer), b = mem.read(g.b.buffer), c = mem.read(g.c.buffer);
  auto elem = [&](const Tensor& t, const GemmOperand& o, int64_t n, int64_t i, int64_t j) {
    return t[o.offset + n * o.batch_stride + (o.trans ? j * o.ld + i : i * o.ld + j)];
  };
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        double acc = 0;
        for (int64_t q = 0; q < g.k; ++q) acc += elem(a, g.a, n, i, q) * elem(b, g.b, n, q, j);
        int64_t at = g.c.offset + n * g.c.batch_stride + i * g.c.ld + j;
        c[at] = g.alpha * acc + (g.beta != 0 ? g.beta * c[at] : 0.0);
      }
  mem.write(g.c.buffer, c);
}

/// Runs step `s` of `p` on `mem` as the cuda executor would: its generated
/// kernel (with `ctx`'s seed and step), the GEMM before an epilogue, a copy.
inline void run_host_step(const Program& p, size_t s, const HostKernels& kernels, HostMemory& mem,
                          const EvalContext& ctx) {
  const Step& st = p.steps[s];
  if (auto* g = st.gemm()) host_gemm(*g, mem);
  if (auto* cp = st.copy()) {
    const int64_t size = dtype_size(p.buffers[cp->src].dtype);
    std::memmove(mem.table()[cp->dst] + cp->dst_offset * size, mem.table()[cp->src] + cp->src_offset * size,
                 static_cast<size_t>(cp->numel * size));
  }
  if (auto* r = st.all_reduce())  // one process: the mean is the value
    for (size_t k = 0; k < r->src.size(); ++k)
      std::memmove(mem.table()[r->dst[k]], mem.table()[r->src[k]], static_cast<size_t>(p.buffers[r->src[k]].bytes()));
  if (cuda_abi::has_kernel(st))
    call_host_kernel(kernels.get(cuda_abi::kernel_symbol(p.entry, s)), mem.table(), cuda_abi::step_items(st), ctx.seed,
                     ctx.step);
}

/// What a program run on the host leaves: outputs by value, state by parameter.
struct HostRun {
  std::map<std::string, Tensor> outputs, state;
};

/// Runs every step of `p` on fresh host memory holding `feeds` (every
/// input and state buffer, by name) and the program's constants.
inline HostRun run_on_host(const Program& p, const HostKernels& kernels, const std::map<std::string, Tensor>& feeds,
                           const EvalContext& ctx) {
  HostMemory mem(p);
  for (const Buffer& b : p.buffers) {
    if (b.kind == BufferKind::input || b.kind == BufferKind::state) mem.write(b.id, feeds.at(b.name));
    if (b.kind == BufferKind::constant) mem.write(b.id, constant_contents(b));
  }
  for (size_t s = 0; s < p.steps.size(); ++s) run_host_step(p, s, kernels, mem, ctx);
  HostRun run;
  for (const Buffer& b : p.buffers) {
    if (b.kind == BufferKind::output) run.outputs[b.name] = mem.read(b.id);
    if (b.kind == BufferKind::state) run.state[b.name] = mem.read(b.id);
  }
  return run;
}

/// An input as the evaluator stores it (its buffer's dtype applied).
inline Tensor eval_input(const Buffer& b, const Tensor& fed) {
  Tensor t({b.dtype, b.dims}, fed.data);
  if (is_integer(b.dtype))
    for (double& v : t.data) v = std::trunc(v);
  return t;
}

/// Runs `p` on the float64 evaluator; at each kernel step, runs the
/// emulated step on fresh memory holding the values the evaluator had
/// before it for the buffers the step reads, and expects every value the
/// step stores within `tol` (relative_error: NaN never passes). Returns the
/// number of kernel steps checked.
inline int expect_kernels_match_evaluator(const Program& p, const HostKernels& kernels,
                                          const std::map<std::string, Tensor>& feeds, double tol = 1e-5) {
  ProgramEvaluator eval(p);
  std::map<std::string, Tensor> inputs = feed_evaluator(eval, p, feeds);
  std::vector<Tensor> now(p.buffers.size());
  auto snapshot = [&] {
    for (const auto& b : p.buffers) now[b.id] = eval.buffer(b.id);
  };
  snapshot();
  for (const auto& b : p.buffers)
    if (b.kind == BufferKind::input) now[b.id] = eval_input(b, feeds.at(b.name));
  EvalContext ctx;
  ctx.training = p.training;
  ctx.seed = kSeed;
  ctx.step = kStep;
  int checked = 0;
  eval.after_step = [&](int s) {
    const Step& st = p.steps[s];
    if (cuda_abi::has_kernel(st)) {
      HostMemory mem(p);
      const LoopKernel* k = st.loop() ? st.loop() : &st.gemm()->epilogue;
      for (const auto& l : k->loads)
        if (l.reads_memory()) mem.write(l.buffer, now[l.buffer]);
      // A step may write part of a buffer (one output phase of a strided
      // fold_patches): the rest keeps what the earlier steps wrote.
      for (const auto& st_at : k->stores) mem.write(st_at.at.buffer, now[st_at.at.buffer]);
      if (auto* g = st.gemm())
        for (int id : {g->a.buffer, g->b.buffer, g->c.buffer}) mem.write(id, now[id]);
      run_host_step(p, static_cast<size_t>(s), kernels, mem, ctx);
      for (const auto& [value, buffer] : st.values) {
        Mismatch m = relative_error(mem.read(buffer), eval.buffer(buffer));
        EXPECT_LE(m.error, tol) << p.entry << " step " << s << " (" << st.kind_name() << "), value " << value
                                << ": " << m.str();
      }
      // Every buffer the step stores to, whole: the values a step lists
      // (above) and the parts a multi-step value gets before its last step.
      for (const auto& st_at : k->stores) {
        Mismatch m = relative_error(mem.read(st_at.at.buffer), eval.buffer(st_at.at.buffer));
        EXPECT_LE(m.error, tol) << p.entry << " step " << s << " (" << st.kind_name() << "), buffer "
                                << p.buffers[st_at.at.buffer].name << ": " << m.str();
      }
      ++checked;
    }
    snapshot();
  };
  eval.run(inputs, ctx);
  return checked;
}

/// `exe` with its native code replaced by `code` (first module in
/// code/ptx, the rest in more_modules), as dlc compile stores it.
inline void set_cuda_code(proto::Executable& exe, const cuda::CudaCode& code) {
  exe.set_code(code.cubin);
  exe.set_ptx(code.ptx);
  exe.clear_more_modules();
  for (const auto& m : code.more_modules) {
    auto* pm = exe.add_more_modules();
    pm->set_code(m.cubin);
    pm->set_ptx(m.ptx);
  }
}

/// Steps with a generated kernel (GEMMs without an epilogue have none).
inline int generated_kernels(const Program& p) {
  int n = 0;
  for (const auto& s : p.steps) n += cuda_abi::has_kernel(s) ? 1 : 0;
  return n;
}

}  // namespace dlc::test
