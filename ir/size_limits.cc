#include "ir/size_limits.h"

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "ir/error.h"

namespace dlc {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr const char* kEnvVar = "DLC_MAX_MEMORY";
constexpr const char* kFlag = "--max-memory";

/// set_max_memory's value; 0 when unset. Atomic: executors may read it on
/// worker threads while a tool sets it once at start.
std::atomic<int64_t> g_override{0};

}  // namespace

int64_t saturating_mul(int64_t a, int64_t b) {
  if (a <= 0 || b <= 0) return a < 0 || b < 0 ? kMax : 0;  // negative: not a size; treat as unbounded
  return a > kMax / b ? kMax : a * b;
}

int64_t saturating_add(int64_t a, int64_t b) { return b > 0 && a > kMax - b ? kMax : a + b; }

int64_t type_bytes(const TensorType& t, int64_t batch) {
  int64_t n = dtype_size(t.dtype);
  for (int64_t d : t.dims) n = saturating_mul(n, d == kBatch ? batch : d);
  return n;
}

int64_t parse_byte_count(const std::string& what, const std::string& text) {
  auto bad = [&](const std::string& why) -> Error {
    return Error(what + ": '" + text + "' is not a byte count (" + why +
                 "; write e.g. 17179869184, 16G or 512M)");
  };
  size_t i = 0;
  int64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    int d = text[i] - '0';
    if (value > (kMax - d) / 10) throw bad("too large");
    value = value * 10 + d;
    ++i;
  }
  if (i == 0) throw bad("no digits");
  std::string unit = text.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();     // "GB", "GIB"
  if (unit.size() == 2 && unit[1] == 'I') unit.pop_back();        // "GI"
  int shift = 0;
  if (unit == "K") shift = 10;
  else if (unit == "M") shift = 20;
  else if (unit == "G") shift = 30;
  else if (unit == "T") shift = 40;
  else if (!unit.empty() && unit != "B") throw bad("unknown unit '" + text.substr(i) + "'");
  if (value > (kMax >> shift)) throw bad("too large");
  value <<= shift;
  if (value <= 0) throw bad("it must be positive");
  return value;
}

int64_t max_memory_bytes() {
  if (int64_t set = g_override.load(std::memory_order_relaxed); set > 0) return set;
  const char* env = std::getenv(kEnvVar);
  if (env && *env) return parse_byte_count(std::string("the environment variable ") + kEnvVar, env);
  return kDefaultMaxMemory;
}

void set_max_memory(int64_t bytes) { g_override.store(bytes > 0 ? bytes : 0, std::memory_order_relaxed); }

std::string take_max_memory_option(int* argc, char** argv) {
  int out = 1;
  const size_t flag_len = std::strlen(kFlag);
  for (int i = 1; i < *argc; ++i) {
    const char* a = argv[i];
    std::string value;
    if (std::strcmp(a, kFlag) == 0) {
      if (i + 1 >= *argc) return std::string(kFlag) + " needs a value (bytes, e.g. 32G)";
      value = argv[++i];
    } else if (std::strncmp(a, kFlag, flag_len) == 0 && a[flag_len] == '=') {
      value = a + flag_len + 1;
    } else {
      argv[out++] = argv[i];
      continue;
    }
    try {
      set_max_memory(parse_byte_count(kFlag, value));
    } catch (const Error& e) {
      return e.what();
    }
  }
  *argc = out;
  argv[out] = nullptr;
  return "";
}

std::string human_bytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string size_fault(int64_t bytes) {
  int64_t limit = max_memory_bytes();
  if (bytes <= limit) return "";
  std::string size = bytes == kMax ? "more than 2^63 bytes" : std::to_string(bytes) + " bytes (" + human_bytes(bytes) + ")";
  return size + ", over the limit of " + std::to_string(limit) + " bytes (" + human_bytes(limit) + "; " + kFlag +
         " or " + kEnvVar + " raises it)";
}

void check_size(const std::string& what, int64_t bytes) {
  if (std::string fault = size_fault(bytes); !fault.empty()) throw Error(what + ": " + fault);
}

void throw_out_of_memory(const std::string& what, int64_t bytes) {
  throw Error(what + ": cannot allocate " + std::to_string(bytes) + " bytes (" + human_bytes(bytes) +
              "): out of memory");
}

}  // namespace dlc
