// NumPy .npy arrays (dlrun's --train-x/--train-y inputs).
#include "ir/error.h"
#include "runtime/npy.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    dlc::parse_npy(dlc::fuzz::as_string(data, size), "fuzz.npy");
  } catch (const dlc::Error&) {
  }
  return 0;
}
