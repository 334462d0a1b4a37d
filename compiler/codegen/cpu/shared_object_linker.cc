#include "compiler/codegen/cpu/shared_object_linker.h"

#include <lld/Common/Driver.h>
#include <llvm/Support/raw_ostream.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

#include "compiler/codegen/cpu/llvm_options.h"
#include "ir/error.h"

LLD_HAS_DRIVER(elf)

namespace dlc::cpu {

namespace {

/// A fresh folder only this process writes to, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "dlc-link-XXXXXX").string();
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) throw Error("cannot create a temporary folder for linking at " + pattern);
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f.flush()) throw Error("cannot write " + path + " for linking");
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("the linker wrote no output at " + path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

std::string link_shared_object(const std::string& object) {
  return link_shared_object(std::vector<std::string>{object});
}

std::string link_shared_object(const std::vector<std::string>& objects) {
  TempDir dir;
  std::string out = dir.file("kernels.so");
  std::vector<std::string> inputs;
  for (size_t i = 0; i < objects.size(); ++i) {
    // The first keeps its old name: a one-object link gives the same bytes as before.
    inputs.push_back(dir.file(i == 0 ? "kernels.o" : ("kernels" + std::to_string(i) + ".o").c_str()));
    write_file(inputs.back(), objects[i]);
  }
  std::vector<const char*> args = {"ld.lld", "-shared", "--build-id=none", "-z", "noexecstack",
                                   "-z", "now", "-o", out.c_str()};
  for (const auto& in : inputs) args.push_back(in.c_str());
  std::string diagnostics;
  llvm::raw_string_ostream diag_stream(diagnostics);
  lld::Result result;
  // LLD keeps global state during a link, one link at a time per process,
  // and resets LLVM's options (llvm_options.h).
  run_resetting_llvm_options(
      [&] { result = lld::lldMain(args, diag_stream, diag_stream, {{lld::Gnu, &lld::elf::link}}); });
  if (result.retCode != 0) throw Error("linking the generated kernels failed: " + diagnostics);
  return read_file(out);
}

}  // namespace dlc::cpu
