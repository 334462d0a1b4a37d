// The cuda executor: runs an executable's kernel programs on an NVIDIA GPU
// with the kernels the compiler generated (a cubin, PTX as the fallback)
// and cuBLAS for the GEMMs. The driver and cuBLAS are loaded at first use
// (runtime/cuda/cuda_driver.h), so this code is in every build with the
// CUDA toolkit headers and fails cleanly on machines without a GPU.
//
// Device memory: the persistent state (one allocation per parameter or
// optimizer state), one arena for the temps of every program (the largest
// arena_bytes), and per program a buffer per input, output and constant
// plus the table of buffer addresses the kernels take (cuda_abi.h); all of
// it is allocated once, at load, with pinned host staging for each
// program's inputs and outputs. A call copies the inputs into the staging,
// then issues on one stream the copies to the device, the steps in order and
// the copies back. The first call of an entry point runs so; then that
// sequence is captured once into a CUDA graph, and every later call is one
// graph launch (no per-step host work: the step number and learning rate
// are read from device memory). DLC_CUDA_GRAPHS=0 turns the graphs off;
// --verify-fusion's step-by-step runs never use them.
//
// Results are bitwise reproducible on one GPU: every kernel's items are
// independent and reduce in a fixed order, and cuBLAS is deterministic on
// a single stream.
#pragma once

#include <memory>

#include "ir/dlc.pb.h"
#include "runtime/executor.h"

namespace dlc {

/// Creates the cuda executor for `exe` (target "cuda", already validated):
/// loads its code on device 0, checks that it was generated from the
/// executable's kernel programs (fingerprint) and has every kernel, and
/// sets up the persistent state from the initial parameters. Returns an
/// ObservableExecutor (runtime/cpu_executor.h), so --verify-fusion works.
/// Throws dlc::Error when there is no driver or device, or naming what is
/// missing or wrong.
std::unique_ptr<Executor> make_cuda_executor(const proto::Executable& exe);

}  // namespace dlc
