// The calling convention between the cpu target's generated kernels
// (compiler/codegen/cpu) and the cpu executor (runtime/cpu_executor.cc).
#pragma once

#include <cctype>
#include <cstdint>
#include <string>

namespace dlc {

namespace cpu_abi {

/// A generated kernel: runs items [begin, end) of its parallel range.
/// `buffers[i]` is the address of the program's buffer i. `seed` and `step`
/// are the run's (the executable's seed, the step number of the call): the
/// dropout masks of a training program are drawn from them (Access::mask).
using KernelFn = void (*)(void* const* buffers, int64_t begin, int64_t end, uint64_t seed, uint64_t step);

/// The symbol of the kernel of step `step` in the program of `entry`.
inline std::string kernel_symbol(const std::string& entry, size_t step) {
  std::string s = "dlc_";
  for (char c : entry) s += (isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return s + "_" + std::to_string(step);
}
/// A constant `int64_t[2]` next to each kernel: {parallel range, loop
/// iterations per range item}. The executor splits [0, range) over the pool.
inline std::string range_symbol(const std::string& kernel) { return kernel + "_range"; }

/// The exported `uint64_t` holding program_fingerprint (kernel/kernel_ir.h)
/// of the programs the shared object was generated from.
constexpr const char* kFingerprintSymbol = "dlc_programs_fingerprint";

}  // namespace cpu_abi

}  // namespace dlc
