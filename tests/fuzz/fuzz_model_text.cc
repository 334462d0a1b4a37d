// Model text (.pbtxt) as dlc check and dlc compile load it: parse, then verify.
// Malformed text must give a dlc::Error; anything else escaping is a finding.
#include "frontend/model_loader.h"
#include "ir/error.h"
#include "ir/verifier.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    dlc::Model m = dlc::parse_model_text(dlc::fuzz::as_string(data, size), "fuzz.pbtxt");
    dlc::verify_model(m);
  } catch (const dlc::Error&) {
  }
  return 0;
}
