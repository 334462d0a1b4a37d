// ONNX models as `dlc import` and `dlc compile MODEL.onnx` read them: parse,
// convert (folding shape chains), verify; inference-only and with a loss.
// External data is refused (no model folder), so no input reads a file.
#include "frontend/onnx/onnx_import.h"
#include "ir/error.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes = dlc::fuzz::as_string(data, size);
  dlc::OnnxImportOptions training;
  training.loss = "softmax_cross_entropy";
  for (const dlc::OnnxImportOptions& options : {dlc::OnnxImportOptions{}, training}) {
    try {
      dlc::import_onnx_bytes(bytes, "fuzz.onnx", "", options);
    } catch (const dlc::Error&) {
    }
  }
  return 0;
}
