// `dlc compile MODEL -o OUT.dlc`: the whole pipeline, from model file to executable.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <sys/stat.h>

#include "kernel/kernel_ir.h"
#include "compiler/pipeline.h"
#include "compiler/tool/commands.h"
#include "compiler/tool/onnx_flags.h"
#include "frontend/model_loader.h"
#include "ir/error.h"
#include "ir/number_text.h"
#include "kernel/executable.h"

namespace dlc {
namespace {

const char* kUsage =
    "usage: dlc compile MODEL -o OUT.dlc [options]\n"
    "  MODEL is a .pbtxt or .pb model file, or an .onnx file (imported as `dlc import` does)\n"
    "  --target cpu|cuda|ref code for the CPU through LLVM (default), for NVIDIA GPUs through NVRTC,\n"
    "                        or the reference interpreter\n"
    "  --batch N             binds the symbolic batch dimension (default 1)\n"
    "  --seed N              parameter initialization seed (default 0)\n"
    "  --no-train            build only `predict`, even when the model has a training section\n"
    "  --data-parallel       train_step averages its gradients, loss and running statistics over\n"
    "                        the processes of `mpirun -np N dlrun train` (--batch rows each); run\n"
    "                        alone it is the one-process step (docs/data-parallel.md)\n"
    "  --conv-as-gemm        convolutions as im2col + GEMM + col2im instead of oneDNN's\n"
    "                        convolution calls (target cuda always lowers them so)\n"
    "  --cpu NAME            LLVM CPU for target cpu: x86-64-v2 (any x86-64 of the last\n"
    "                        decade; default), x86-64-v3, native (this machine), ...; a\n"
    "                        machine without the CPU's extensions refuses the file\n"
    "  --dump-after STAGE|all print the IR after a stage (or every stage) to stderr; the\n"
    "                        stages in order: verify, bind_batch, regularize, autodiff,\n"
    "                        all_reduce_gradients (--data-parallel), lower_optimizer,\n"
    "                        fold_constants, cse, simplify (the graph as text),\n"
    "                        fuse (fusion decisions), lower, plan_memory (kernel programs),\n"
    "                        codegen (LLVM IR or CUDA C); the last four for cpu and cuda\n"
    "  --verify-each         also check that every stage reporting no change left its IR alone\n"
    "  --explain-fusion      list each kernel with its ops, and why ops stayed apart\n"
    "  --print-kernels       print the kernel programs\n"
    "  --emit-llvm DIR       write the generated LLVM IR to DIR/model.ll\n"
    "  --gpu-arch ARCH       GPU architecture for target cuda: sm_90 (default), sm_80, ... (PTX comes too)\n"
    "  --emit-cuda DIR       write the generated CUDA C to DIR/model.cu (target cuda;\n"
    "                        a large model's modules, each a whole unit, one after another)\n";

std::string human_bytes(int64_t b) {
  char buf[32];
  if (b >= (1 << 20)) snprintf(buf, sizeof buf, "%.2f MiB", b / 1048576.0);
  else if (b >= 1024) snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  return buf;
}

}  // namespace

int cmd_compile(int argc, char** argv) {
  CompileOptions opts;
  opts.target = "cpu";
  std::string model_path, out_path, emit_llvm_dir, emit_cuda_dir;
  bool explain = false, print_kernels = false, onnx_flags = false;
  OnnxImportOptions onnx;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error("dlc compile: " + a + " needs a value");
      return argv[++i];
    };
    auto batch = [&] { return parse_whole_number("dlc compile: " + a, value(), 1, kMaxBatch); };
    auto seed = [&] { return parse_unsigned_number("dlc compile: " + a, value()); };
    if (a == "--help" || a == "-h") { std::cout << kUsage << "\n" << kOnnxFlagsUsage; return 0; }
    else if (a == "-o") out_path = value();
    else if (a == "--target") opts.target = value();
    else if (a == "--batch") opts.batch = batch();
    else if (a == "--seed") opts.seed = seed();
    else if (a == "--no-train") opts.training = false;
    else if (a == "--data-parallel") opts.data_parallel = true;
    else if (a == "--conv-as-gemm") opts.convolutions_as_gemm = true;
    else if (a == "--cpu") opts.cpu = value();
    else if (a == "--dump-after") opts.dump_after = value();
    else if (a == "--verify-each") opts.verify_changes = true;
    else if (a == "--explain-fusion") explain = true;
    else if (a == "--print-kernels") print_kernels = true;
    else if (a == "--emit-llvm") emit_llvm_dir = value();
    else if (a == "--gpu-arch") opts.gpu_arch = value();
    else if (a == "--emit-cuda") emit_cuda_dir = value();
    else if (take_onnx_flag(a, value, &onnx)) onnx_flags = true;
    else if (!a.empty() && a[0] == '-') { std::cerr << "dlc compile: unknown option " << a << "\n" << kUsage; return 2; }
    else if (model_path.empty()) model_path = a;
    else { std::cerr << "dlc compile: more than one model given\n"; return 2; }
  }
  if (model_path.empty() || out_path.empty()) { std::cerr << kUsage; return 2; }
  if (!emit_cuda_dir.empty() && opts.target != "cuda") {
    std::cerr << "dlc compile: --emit-cuda needs --target cuda\n";
    return 2;
  }

  auto start = std::chrono::steady_clock::now();
  Model m = load_any_model(model_path, onnx, onnx_flags);
  std::string llvm_ir;
  if (!emit_llvm_dir.empty()) opts.llvm_ir = &llvm_ir;
  std::string cuda_source;
  if (!emit_cuda_dir.empty()) opts.cuda_source = &cuda_source;
  int kernels = 0;
  int64_t arena = 0, unplanned = 0;
  opts.on_programs = [&](const std::vector<Program>& programs) {
    for (const auto& p : programs) {
      kernels += p.kernel_count();
      arena = std::max(arena, p.arena_bytes);
      unplanned = std::max(unplanned, p.unplanned_bytes);
      std::cout << p.entry << ": " << p.kernel_count() << " kernels, arena " << human_bytes(p.arena_bytes)
                << " (unplanned " << human_bytes(p.unplanned_bytes) << ")\n";
      if (explain)
        for (const auto& line : p.explain) std::cout << "  " << line << "\n";
      if (print_kernels) std::cout << print_program(p) << "\n";
    }
  };
  proto::Executable exe;
  try {
    exe = compile_model(std::move(m), opts);
  } catch (const Error&) {
    // The source NVRTC rejected is what one needs to see.
    if (!cuda_source.empty()) {
      mkdir(emit_cuda_dir.c_str(), 0755);
      std::ofstream(emit_cuda_dir + "/model.cu") << cuda_source;
      std::cerr << "wrote " << emit_cuda_dir << "/model.cu\n";
    }
    throw;
  }
  save_executable_atomic(exe, out_path);
  if (!emit_llvm_dir.empty()) {
    mkdir(emit_llvm_dir.c_str(), 0755);
    std::string path = emit_llvm_dir + "/model.ll";
    std::ofstream(path) << llvm_ir;
    std::cout << "wrote " << path << "\n";
  }
  if (!emit_cuda_dir.empty()) {
    mkdir(emit_cuda_dir.c_str(), 0755);
    std::string path = emit_cuda_dir + "/model.cu";
    std::ofstream(path) << cuda_source;
    std::cout << "wrote " << path << "\n";
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  int64_t params = 0;
  for (const auto& p : exe.initial_params()) params += static_cast<int64_t>(p.data().size());
  std::cout << "compiled " << model_path << " -> " << out_path << " (target " << opts.target << ", batch "
            << opts.batch << ", " << exe.entry_points_size() << " entry points, parameters and state "
            << human_bytes(params) << ") in " << static_cast<int>(ms) << " ms\n";
  return 0;
}

}  // namespace dlc
