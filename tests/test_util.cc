#include "tests/test_util.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <unistd.h>

namespace dlc::test {

std::string source_path(const std::string& rel) {
  // DLC_SOURCE_DIR in the environment wins: test binaries carried to another
  // machine (scripts/gpu_pack_tests.sh) find the tree where it is there.
  const char* dir = std::getenv("DLC_SOURCE_DIR");
  return std::string(dir && *dir ? dir : DLC_SOURCE_DIR) + "/" + rel;
}
std::string tool_path(const std::string& name) { return std::string(DLC_BINARY_DIR) + "/" + name; }

std::string temp_dir() {
  char tmpl[] = "/tmp/dlc_test_XXXXXX";
  const char* d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

int run_command(const std::string& cmd, std::string* output) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  output->clear();
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) output->append(buf.data(), n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Tensor random_tensor(const std::vector<int64_t>& dims, uint64_t seed, double lo, double hi, DType dtype) {
  Tensor t(TensorType{dtype, dims});
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  for (auto& v : t.data) v = u(rng);
  round_to_dtype(t);
  return t;
}

}  // namespace dlc::test
