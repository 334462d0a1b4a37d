// The x86-64 instruction-set extensions a cpu executable's code may use,
// named as LLVM and GCC both name them. The compiler records which of them
// the code was generated for (Executable.cpu_features); the runtime checks
// them against this machine before it loads the code, so an executable
// compiled for a newer CPU is refused with the missing extensions named
// instead of dying on an illegal instruction.
//
// Only extensions this list names are checked: those GCC's
// __builtin_cpu_supports can test. (x86-64-v3's F16C, LZCNT and MOVBE are
// not among them; every CPU with AVX2 has them.)
#pragma once

#include <string>
#include <vector>

namespace dlc {

/// Every extension the runtime can check, in a fixed order.
const std::vector<std::string>& checkable_cpu_features();

/// Those of `required` this machine lacks, in the order given; a name the
/// runtime cannot check counts as lacking (a newer compiler's record).
std::vector<std::string> missing_cpu_features(const std::vector<std::string>& required);

}  // namespace dlc
