#include "compiler/codegen/cuda/nvrtc_compiler.h"

#include <nvrtc.h>

#include <cctype>
#include <memory>
#include <vector>

#include "ir/error.h"

namespace dlc::cuda {
namespace {

void check(nvrtcResult r, const char* what) {
  if (r != NVRTC_SUCCESS) throw Error(std::string("NVRTC: ") + what + " failed: " + nvrtcGetErrorString(r));
}

/// "sm_" followed by digits and at most one lowercase suffix letter.
bool looks_like_arch(const std::string& a) {
  if (a.size() < 5 || a.rfind("sm_", 0) != 0) return false;
  size_t i = 3;
  while (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i]))) ++i;
  return i > 3 && (i == a.size() || (i + 1 == a.size() && std::islower(static_cast<unsigned char>(a[i]))));
}

struct ProgramDeleter {
  void operator()(nvrtcProgram* p) const {
    nvrtcDestroyProgram(p);
    delete p;
  }
};

}  // namespace

NvrtcOutput nvrtc_compile(const std::string& source, const std::string& name, const std::string& gpu_arch) {
  if (!looks_like_arch(gpu_arch))
    throw Error("unknown GPU architecture '" + gpu_arch + "' (expected sm_XX, e.g. sm_80, sm_90)");
  auto program = std::unique_ptr<nvrtcProgram, ProgramDeleter>(new nvrtcProgram{});
  check(nvrtcCreateProgram(program.get(), source.c_str(), name.c_str(), 0, nullptr, nullptr), "nvrtcCreateProgram");
  nvrtcProgram p = *program;
  // A real architecture gives both the cubin and PTX (.target sm_XX, which
  // drivers JIT for later GPUs). No fast-math options: accurate expf, tanhf, ...
  std::string arch = "--gpu-architecture=" + gpu_arch;
  std::vector<const char*> options = {arch.c_str(), "-default-device", "-std=c++17"};
  nvrtcResult compiled = nvrtcCompileProgram(p, static_cast<int>(options.size()), options.data());
  size_t log_size = 0;
  nvrtcGetProgramLogSize(p, &log_size);
  std::string log(log_size, '\0');
  if (log_size > 0) nvrtcGetProgramLog(p, log.data());
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  if (compiled != NVRTC_SUCCESS) {
    throw Error("NVRTC could not compile " + name + " for " + gpu_arch + " (" + nvrtcGetErrorString(compiled) + "):\n" +
                log);
  }
  NvrtcOutput out;
  out.log = log;
  size_t size = 0;
  check(nvrtcGetCUBINSize(p, &size), "nvrtcGetCUBINSize");
  out.cubin.resize(size);
  check(nvrtcGetCUBIN(p, out.cubin.data()), "nvrtcGetCUBIN");
  check(nvrtcGetPTXSize(p, &size), "nvrtcGetPTXSize");
  out.ptx.resize(size);
  check(nvrtcGetPTX(p, out.ptx.data()), "nvrtcGetPTX");
  // The PTX size counts its terminating NUL; the bytes stored are the text.
  while (!out.ptx.empty() && out.ptx.back() == '\0') out.ptx.pop_back();
  return out;
}

}  // namespace dlc::cuda
