#include "compiler/codegen/cpu/cpu_codegen.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <limits>
#include <memory>
#include <system_error>
#include <thread>

#include "compiler/codegen/cpu/convolution_emitter.h"
#include "compiler/codegen/cpu/loop_emitter.h"
#include "compiler/codegen/cpu/object_emitter.h"
#include "compiler/codegen/cpu/shared_object_linker.h"
#include "compiler/codegen_threads.h"
#include "kernel/cpu_abi.h"

namespace dlc::cpu {
namespace {

// Above this many instructions (before optimization) a kernel skips the
// loop vectorizer. The shipped models' largest kernel has ~210 (mlp_mnist),
// a 256-deep element-wise chain ~2.6k, a training chain's kernel at the
// fusion limits ~110k. On a 2.6k-instruction kernel the vector loop (next
// to the scalar remainder loop) costs LLVM 185 ms instead of 53 ms, and it
// is most of a deep chain's compile time; such a kernel's per-element cost
// is a long serial dependence chain either way. Results are identical.
constexpr unsigned kVectorizeMaxInstructions = 1024;
// Kernels whose rows were unrolled are straight-line copies of a short body
// per element of a row (at most 256 scalar nodes, loop_emitter.cc), and
// they vectorize across rows: a softmax over 10 classes has ~1.2k
// instructions, and vectorized it took 0.13 ms instead of 0.85 at batch
// 10000 (AVX-512, session 16) for a few ms more compile time.
constexpr unsigned kVectorizeMaxUnrolledInstructions = 4096;

// One kernel function to generate: which program, which step, which loop
// (or which generated convolution).
struct KernelTask {
  const Program* program;
  const LoopKernel* kernel;
  std::string symbol;
  const ConvCall* conv = nullptr;
};

/// Emits task `t` into `m` for a CPU whose direct convolutions take
/// `lanes`-wide vectors. Returns the size (instructions) above which the
/// kernel skips the loop vectorizer: none for a convolution, whose loops
/// are vector code already.
unsigned emit_task(llvm::Module& m, const KernelTask& t, int lanes) {
  if (t.conv) {
    emit_convolution_kernel(m, *t.conv, t.symbol, lanes);
    return std::numeric_limits<unsigned>::max();
  }
  const bool unrolled_rows = emit_loop_kernel(m, *t.program, *t.kernel, t.symbol);
  return unrolled_rows ? kVectorizeMaxUnrolledInstructions : kVectorizeMaxInstructions;
}

std::string module_text(const llvm::Module& m) {
  std::string text;
  llvm::raw_string_ostream out(text);
  m.print(out, nullptr);
  return text;
}

std::vector<KernelTask> kernel_tasks(const std::vector<Program>& programs) {
  std::vector<KernelTask> tasks;
  for (const Program& p : programs) {
    check_program(p);
    for (size_t i = 0; i < p.steps.size(); ++i) {
      const Step& s = p.steps[i];
      std::string name = cpu_abi::kernel_symbol(p.entry, i);
      if (auto* k = s.loop()) tasks.push_back({&p, k, name});
      if (auto* g = s.gemm(); g && g->has_epilogue()) tasks.push_back({&p, &g->epilogue, name});
      if (auto* c = s.conv(); c && c->generated) tasks.push_back({&p, nullptr, name, c});
    }
  }
  return tasks;
}

void add_fingerprint(llvm::Module& m, const std::vector<Program>& programs) {
  llvm::Type* i64 = llvm::Type::getInt64Ty(m.getContext());
  new llvm::GlobalVariable(m, i64, true, llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantInt::get(i64, program_fingerprint(programs)),
                           cpu_abi::kFingerprintSymbol);
}

// Module `index`: kernel `index` alone, and the fingerprint in module 0
// (which exists even when there are no kernels). Each module lives in its
// own context, so modules compile on separate threads and are freed one at
// a time: memory stays at a few kernels' worth however large the model.
unsigned module_count(const std::vector<KernelTask>& tasks) {
  return std::max<unsigned>(1, static_cast<unsigned>(tasks.size()));
}

struct CompiledModule {
  std::string object;
  std::string optimized_ir;  // only when asked for
};

CompiledModule compile_module(const std::vector<Program>& programs, const std::vector<KernelTask>& tasks,
                              unsigned index, llvm::TargetMachine& tm, bool want_ir) {
  llvm::LLVMContext ctx;
  llvm::Module m("dlc_kernels", ctx);
  configure_module(m, tm);
  PipelineOptions pipeline;
  if (index < tasks.size()) {
    const KernelTask& t = tasks[index];
    const unsigned limit = emit_task(m, t, convolution_lanes(target_cpu(tm).features));
    if (llvm::Function* f = m.getFunction(t.symbol); f && f->getInstructionCount() > limit)
      pipeline.vectorize_loops = false;
  }
  if (index == 0) add_fingerprint(m, programs);
  CompiledModule out;
  out.object = emit_object(m, tm, pipeline);
  if (want_ir) out.optimized_ir = module_text(m);
  return out;
}

}  // namespace

void choose_convolution_kernels(std::vector<Program>& programs, const std::string& cpu) {
  choose_generated_convolutions(programs, convolution_lanes(target_cpu(*make_target_machine(cpu)).features));
}

std::string compile_programs(const std::vector<Program>& programs, const CpuCodegenOptions& opts) {
  std::vector<KernelTask> tasks = kernel_tasks(programs);
  // Checked (and the CPU name validated) before any thread starts.
  auto tm = make_target_machine(opts.cpu);
  TargetCpu cpu = target_cpu(*tm);
  if (opts.cpu_name) *opts.cpu_name = cpu.name;
  if (opts.cpu_features) *opts.cpu_features = cpu.features;
  if (opts.llvm_ir) {
    // The text is one module, as a reader expects; building it costs a
    // second IR generation, only when asked for.
    llvm::LLVMContext ctx;
    llvm::Module m("dlc_kernels", ctx);
    configure_module(m, *tm);
    for (const KernelTask& t : tasks) emit_task(m, t, convolution_lanes(cpu.features));
    add_fingerprint(m, programs);
    *opts.llvm_ir = module_text(m);
  }

  const unsigned modules = module_count(tasks);
  const unsigned threads = std::min(modules, opts.threads > 0 ? static_cast<unsigned>(opts.threads) : codegen_threads());
  const bool want_ir = opts.optimized_llvm_ir != nullptr;
  std::vector<CompiledModule> compiled(modules);
  std::vector<std::exception_ptr> errors(modules);
  std::atomic<unsigned> next{0};
  auto worker = [&](llvm::TargetMachine* machine) {
    std::unique_ptr<llvm::TargetMachine> own;
    if (!machine) {
      // A target machine is not safe to share between threads that emit code.
      try {
        own = make_target_machine(opts.cpu);
      } catch (...) {
        errors[0] = std::current_exception();
        return;
      }
      machine = own.get();
    }
    for (unsigned i; (i = next.fetch_add(1)) < modules;) {
      try {
        compiled[i] = compile_module(programs, tasks, i, *machine, want_ir);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) {
    // Fewer helpers when the system starts no more (an address-space or
    // process limit): they share one queue, so the code is the same.
    try {
      pool.emplace_back(worker, nullptr);
    } catch (const std::system_error&) {
      break;
    }
  }
  worker(tm.get());
  for (auto& th : pool) th.join();
  // The first failing kernel in program order, whatever the thread count.
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);

  std::vector<std::string> objects;
  objects.reserve(modules);
  if (want_ir) opts.optimized_llvm_ir->clear();
  for (auto& c : compiled) {
    objects.push_back(std::move(c.object));
    if (want_ir) *opts.optimized_llvm_ir += c.optimized_ir;
    c = {};
  }
  return link_shared_object(objects);
}

}  // namespace dlc::cpu
