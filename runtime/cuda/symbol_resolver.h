// Resolving a dlopen'ed library's functions into a table of function
// pointers (the CUDA driver, cuBLAS), collecting every missing name so one
// error can list them all.
#pragma once

#include <dlfcn.h>

#include <string>
#include <type_traits>

// The symbol a function name resolves to after the library header's macros
// (cuda.h renames cuMemAlloc to cuMemAlloc_v2, cublas_v2.h cublasCreate to
// cublasCreate_v2): expand first, then stringify.
#define DLC_SYMBOL_NAME(name) DLC_SYMBOL_STRINGIFY(name)
#define DLC_SYMBOL_STRINGIFY(name) #name

namespace dlc::cuda {

class SymbolResolver {
 public:
  explicit SymbolResolver(void* library) : library_(library) {}

  /// Points `fn` at `symbol`, or records the name when the library lacks it.
  template <typename Fn> void operator()(Fn& fn, const char* symbol) {
    fn = reinterpret_cast<std::remove_reference_t<Fn>>(dlsym(library_, symbol));
    if (!fn) missing_ += (missing_.empty() ? "" : ", ") + std::string(symbol);
  }

  /// The names not found so far, comma-separated; empty when all were.
  const std::string& missing() const { return missing_; }

 private:
  void* library_;
  std::string missing_;
};

}  // namespace dlc::cuda
