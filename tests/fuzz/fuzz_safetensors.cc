// Checkpoints in the safetensors format (dlrun --checkpoint/--weights).
#include "ir/error.h"
#include "runtime/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    dlc::decode_safetensors(dlc::fuzz::as_string(data, size), "fuzz.safetensors");
  } catch (const dlc::Error&) {
  }
  return 0;
}
