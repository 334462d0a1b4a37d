// Checkpoints in the safetensors format, so other tools can read the weights:
// an 8-byte little-endian header length, a JSON header
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
//    "__metadata__": {"key": "value", ...}}
// and then the tensors' bytes, offsets relative to the end of the header.
#pragma once

#include <map>
#include <string>

#include "runtime/executor.h"

namespace dlc {

/// Every persistent tensor of a model plus string metadata (step, epoch, ...).
struct Checkpoint {
  std::map<std::string, HostTensor> tensors;
  std::map<std::string, std::string> metadata;
};

/// The safetensors bytes of `c`; tensors are laid out in name order.
std::string encode_safetensors(const Checkpoint& c);

/// Parses and validates safetensors bytes: the header length against the
/// size, the JSON, each dtype (F32 F64 I32 I64 BOOL), shape, and that the
/// data offsets tile the data exactly. `source` names them in errors; a
/// truncated file is an error saying so.
Checkpoint decode_safetensors(const std::string& bytes, const std::string& source);

/// Writes atomically (ir/file_io.h): until the final rename the
/// previous file at `path` is untouched. Throws dlc::Error naming the file.
void save_checkpoint(const std::string& path, const Checkpoint& c);

/// Reads and validates a checkpoint; throws dlc::Error naming the file.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace dlc
