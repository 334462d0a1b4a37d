// The ONNX import flags of `dlc import` and of `dlc compile MODEL.onnx`:
// the training section (loss, optimizer, regularization) and which
// initializers train.
#pragma once

#include <functional>
#include <string>

#include "frontend/onnx/onnx_import.h"

namespace dlc {

/// The flags' lines for a usage text.
extern const char* const kOnnxFlagsUsage;

/// Takes `flag` when it is an import flag, reading its value with `value()`;
/// returns false for any other flag. Throws dlc::Error for a bad value.
bool take_onnx_flag(const std::string& flag, const std::function<std::string()>& value, OnnxImportOptions* o);

/// Reads a model file: ONNX (by its extension, with `onnx`) or .pbtxt/.pb.
/// Import flags on a .pbtxt are an error (they would be silently ignored).
Model load_any_model(const std::string& path, const OnnxImportOptions& onnx, bool onnx_flags_given);

}  // namespace dlc
