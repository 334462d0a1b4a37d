#include "compiler/codegen_threads.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "ir/number_text.h"

namespace dlc {

unsigned codegen_threads() {
  // Read strictly: atoi took "8x" as 8 and "abc" as the default.
  if (const char* env = std::getenv("DLC_CODEGEN_THREADS"))
    return static_cast<unsigned>(parse_whole_number("DLC_CODEGEN_THREADS", env, 1, 1024));
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : std::min(n, 16u);
}

}  // namespace dlc
