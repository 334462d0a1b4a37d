// Loading models from .pbtxt (text) and .pb (binary) protobuf files.
#pragma once

#include <string>

#include "ir/graph.h"

namespace dlc {

/// Loads a model; `.pb` is binary, anything else is text format. Throws
/// dlc::Error naming the file (and line:column for text parse errors).
/// Nodes, inputs and parameters carry their source line for later messages.
Model load_model(const std::string& path);

/// Parses text-format model source; `source_name` appears in messages.
Model parse_model_text(const std::string& text, const std::string& source_name);

/// Parses binary model bytes.
Model parse_model_binary(const std::string& bytes, const std::string& source_name);

/// The model as protobuf text, repeated numbers on one line (dims: [-1, 784]).
std::string model_text(const Model& m);

/// Writes a model atomically; `.pb` gets binary, anything else text format.
/// Source lines, types and pass results (gradients, updates) are not saved.
/// Throws dlc::Error when the file cannot be written.
void save_model(const Model& m, const std::string& path);

}  // namespace dlc
