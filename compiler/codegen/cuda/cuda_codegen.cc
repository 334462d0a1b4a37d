#include "compiler/codegen/cuda/cuda_codegen.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <system_error>
#include <thread>

#include "compiler/codegen/cuda/nvrtc_compiler.h"
#include "compiler/codegen_threads.h"

namespace dlc::cuda {

CudaCode compile_programs(const std::vector<Program>& programs, const CudaCodegenOptions& opts) {
  std::vector<std::string> sources = emit_cuda_modules(programs, opts.split_bytes);
  if (opts.source) {
    opts.source->clear();
    for (const auto& s : sources) *opts.source += s;
  }
  const size_t modules = sources.size();
  const size_t threads =
      std::min<size_t>(modules, opts.threads > 0 ? static_cast<unsigned>(opts.threads) : codegen_threads());
  // Each unit is a program of its own (NVRTC is thread-safe across
  // programs), with the same options: the code does not depend on threads.
  std::vector<NvrtcOutput> compiled(modules);
  std::vector<std::exception_ptr> errors(modules);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < modules;) {
      try {
        std::string name = modules == 1 ? "model.cu" : "model_" + std::to_string(i) + ".cu";
        compiled[i] = nvrtc_compile(sources[i], name, opts.gpu_arch);
      } catch (...) {
        errors[i] = std::current_exception();
      }
      sources[i] = {};
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) {
    // Fewer helpers when the system starts no more (an address-space or
    // process limit): they share one queue, so the code is the same.
    try {
      pool.emplace_back(worker);
    } catch (const std::system_error&) {
      break;
    }
  }
  worker();
  for (auto& th : pool) th.join();
  // The first failing module in order, whatever the thread count.
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  CudaCode code{std::move(compiled[0].cubin), std::move(compiled[0].ptx), {}};
  for (size_t i = 1; i < modules; ++i)
    code.more_modules.push_back({std::move(compiled[i].cubin), std::move(compiled[i].ptx)});
  return code;
}

}  // namespace dlc::cuda
