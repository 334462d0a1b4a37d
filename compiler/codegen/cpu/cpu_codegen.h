// The CPU backend's entry point: kernel programs → one shared object.
#pragma once

#include <string>
#include <vector>

#include "kernel/kernel_ir.h"

namespace dlc::cpu {

struct CpuCodegenOptions {
  /// LLVM CPU name ("x86-64-v2", "x86-64-v3", "skylake-avx512", ...) or
  /// "native" (this machine).
  std::string cpu = "x86-64-v2";
  /// When set, receives the CPU name and the extensions the code may use.
  std::string* cpu_name = nullptr;
  std::vector<std::string>* cpu_features = nullptr;
  /// When set, receives the module's LLVM IR before optimization (--emit-llvm).
  std::string* llvm_ir = nullptr;
  /// When set, receives the IR after the O3 pipeline: one module per
  /// kernel (the first also holds the fingerprint), their texts in order.
  std::string* optimized_llvm_ir = nullptr;
  /// Threads that optimize and emit kernels (0: $DLC_CODEGEN_THREADS when
  /// set, else one per core, at most 16).
  /// The shared object's bytes do not depend on it.
  int threads = 0;
};

/// Marks the convolution steps that the code for `cpu` computes with
/// generated kernels instead of oneDNN (ConvCall::generated: small
/// convolutions, compiler/codegen/cpu/convolution_emitter.h). Call it
/// before compile_programs, with the same cpu.
void choose_convolution_kernels(std::vector<Program>& programs, const std::string& cpu);

/// Generates one kernel function per loop step, row step, GEMM epilogue and
/// generated convolution of every program (symbols and ABI in runtime/cpu_executor.h), each in an
/// LLVM module of its own, optimizes them at O3 for `opts.cpu` on
/// `opts.threads` threads, and links them into a shared object whose bytes
/// go into Executable::code. Throws dlc::Error for an unknown CPU or
/// a program check_program rejects.
std::string compile_programs(const std::vector<Program>& programs, const CpuCodegenOptions& opts = {});

}  // namespace dlc::cpu
