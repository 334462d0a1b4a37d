#include "frontend/model_loader.h"

#include "ir/file_io.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/text_format.h>

#include "ir/error.h"
#include "ir/proto_bytes.h"

namespace dlc {
namespace {

/// Collects every text-format parse error as "file:line:column: message".
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit ErrorCollector(std::string source) : source_(std::move(source)) {}
  void AddError(int line, int column, const std::string& message) override {
    // Protobuf counts lines and columns from 0; editors count from 1.
    errors_ += (errors_.empty() ? "" : "\n") + source_ + ":" + std::to_string(line + 1) + ":" +
               std::to_string(column + 1) + ": " + message;
  }
  void AddWarning(int, int, const std::string&) override {}
  const std::string& errors() const { return errors_; }

 private:
  std::string source_;
  std::string errors_;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// A file that parses but computes nothing is almost always the wrong file
/// (random bytes often decode as an empty binary message), so say so.
void require_something_to_compute(const Model& m) {
  if (m.graph.outputs.empty() && !m.has_training())
    throw Error(m.source + ": the model has no outputs and no training loss; is this a dlc model file?");
}

/// Copies the source line of each input, parameter and node from the
/// parser's location tree, so later messages can point into the file.
void attach_source_lines(const google::protobuf::TextFormat::ParseInfoTree& info, Model& model) {
  const auto* graph_info = info.GetTreeForNested(proto::Model::descriptor()->FindFieldByName("graph"), -1);  // -1: a singular field
  if (!graph_info) return;
  const auto* gdesc = proto::Graph::descriptor();
  auto line_of = [&](const char* field, size_t index) {
    auto loc = graph_info->GetLocation(gdesc->FindFieldByName(field), static_cast<int>(index));
    return loc.line >= 0 ? loc.line + 1 : 0;
  };
  auto& g = model.graph;
  for (size_t i = 0; i < g.nodes.size(); ++i) g.nodes[i].line = line_of("nodes", i);
  for (size_t i = 0; i < g.inputs.size(); ++i) g.inputs[i].line = line_of("inputs", i);
  for (size_t i = 0; i < g.params.size(); ++i) g.params[i].line = line_of("params", i);
}

}  // namespace

Model parse_model_text(const std::string& text, const std::string& source_name) {
  proto::Model m;
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors(source_name);
  google::protobuf::TextFormat::ParseInfoTree info;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&info);
  bool parsed;
  {
    // Text that is not valid UTF-8 is reported through protobuf's logger
    // as well as the collector; keep stderr to our one message.
    google::protobuf::LogSilencer quiet;
    parsed = parser.ParseFromString(text, &m);
  }
  if (!parsed) throw Error(errors.errors().empty() ? source_name + ": cannot parse model" : errors.errors());
  Model model = model_from_proto(m);
  model.source = source_name;
  attach_source_lines(info, model);
  require_something_to_compute(model);
  return model;
}

Model parse_model_binary(const std::string& bytes, const std::string& source_name) {
  proto::Model m;
  bool parsed;
  {
    // Protobuf logs invalid UTF-8 in string fields to stderr; the error we
    // throw says what the user needs to know.
    google::protobuf::LogSilencer quiet;
    parsed = m.ParseFromString(bytes);
  }
  if (!parsed)
    throw Error(source_name + ": not a valid binary model (protobuf parse failed; truncated or not a .pb file?)");
  Model model = model_from_proto(m);
  model.source = source_name;
  require_something_to_compute(model);
  return model;
}

Model load_model(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory, not a model file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open file");
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw Error(path + ": cannot read file");
  if (ends_with(path, ".pb")) return parse_model_binary(buf.str(), path);
  return parse_model_text(buf.str(), path);
}

std::string model_text(const Model& m) {
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  // dims: [-1, 784] and values: [...] on one line, as the model files write them.
  printer.SetUseShortRepeatedPrimitives(true);
  if (!printer.PrintToString(model_to_proto(m), &text)) throw Error(m.source + ": cannot print the model");
  return text;
}

void save_model(const Model& m, const std::string& path) {
  std::string bytes;
  if (ends_with(path, ".pb")) {
    if (!serialize_deterministic(model_to_proto(m), &bytes)) throw Error(path + ": cannot serialize model");
  } else {
    bytes = model_text(m);
  }
  write_file_atomic(path, bytes);
}

}  // namespace dlc
