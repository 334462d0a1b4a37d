#include "kernel/cpu_features.h"

#include <utility>

namespace dlc {
namespace {

// __builtin_cpu_supports takes only string literals, hence one lambda each.
#define DLC_CPU_FEATURE(name) {name, [] { return __builtin_cpu_supports(name) != 0; }}

using Probe = bool (*)();

const std::vector<std::pair<std::string, Probe>>& probes() {
  static const std::vector<std::pair<std::string, Probe>> table = {
      DLC_CPU_FEATURE("sse3"),        DLC_CPU_FEATURE("ssse3"),      DLC_CPU_FEATURE("sse4.1"),
      DLC_CPU_FEATURE("sse4.2"),      DLC_CPU_FEATURE("popcnt"),     DLC_CPU_FEATURE("aes"),
      DLC_CPU_FEATURE("pclmul"),      DLC_CPU_FEATURE("avx"),        DLC_CPU_FEATURE("avx2"),
      DLC_CPU_FEATURE("fma"),         DLC_CPU_FEATURE("bmi"),        DLC_CPU_FEATURE("bmi2"),
      DLC_CPU_FEATURE("avx512f"),     DLC_CPU_FEATURE("avx512vl"),   DLC_CPU_FEATURE("avx512bw"),
      DLC_CPU_FEATURE("avx512dq"),    DLC_CPU_FEATURE("avx512cd"),   DLC_CPU_FEATURE("avx512vbmi"),
      DLC_CPU_FEATURE("avx512ifma"),  DLC_CPU_FEATURE("avx512vpopcntdq"), DLC_CPU_FEATURE("avx512vbmi2"),
      DLC_CPU_FEATURE("avx512vnni"),  DLC_CPU_FEATURE("avx512bitalg"), DLC_CPU_FEATURE("avx512bf16"),
      DLC_CPU_FEATURE("gfni"),        DLC_CPU_FEATURE("vpclmulqdq"),
  };
  return table;
}

#undef DLC_CPU_FEATURE

}  // namespace

const std::vector<std::string>& checkable_cpu_features() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [name, probe] : probes()) out.push_back(name);
    return out;
  }();
  return names;
}

std::vector<std::string> missing_cpu_features(const std::vector<std::string>& required) {
  std::vector<std::string> missing;
  for (const std::string& want : required) {
    bool have = false;
    for (const auto& [name, probe] : probes())
      if (name == want) have = probe();
    if (!have) missing.push_back(want);
  }
  return missing;
}

}  // namespace dlc
