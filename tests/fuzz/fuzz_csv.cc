// Numeric CSV tables (dlrun's --train-x/--train-y inputs); read_csv takes a path.
#include "ir/error.h"
#include "runtime/datasets.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static dlc::fuzz::MemoryFile file("fuzz.csv");
  try {
    dlc::read_csv(file.hold(data, size));
  } catch (const dlc::Error&) {
  }
  return 0;
}
