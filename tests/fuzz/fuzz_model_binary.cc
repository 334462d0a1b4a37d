// Binary models (.pb) as dlc check and dlc compile load them: parse, then verify.
#include "frontend/model_loader.h"
#include "ir/error.h"
#include "ir/verifier.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    dlc::Model m = dlc::parse_model_binary(dlc::fuzz::as_string(data, size), "fuzz.pb");
    dlc::verify_model(m);
  } catch (const dlc::Error&) {
  }
  return 0;
}
