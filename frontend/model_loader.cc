#include "frontend/model_loader.h"

#include <fstream>
#include <sstream>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "ir/error.h"

namespace dlc {
namespace {

/// Collects every text-format parse error as "file:line:column: message".
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit ErrorCollector(std::string source) : source_(std::move(source)) {}
  void AddError(int line, int column, const std::string& message) override {
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

}  // namespace

Model parse_model_text(const std::string& text, const std::string& source_name) {
  proto::Model m;
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors(source_name);
  google::protobuf::TextFormat::ParseInfoTree info;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&info);
  if (!parser.ParseFromString(text, &m)) {
    throw Error(errors.errors().empty() ? source_name + ": cannot parse model" : errors.errors());
  }
  Model model = model_from_proto(m);
  model.source = source_name;
  // Source lines, so later errors can point into the file.
  const auto* desc = proto::Model::descriptor();
  const auto* graph_info = info.GetTreeForNested(desc->FindFieldByName("graph"), 0);
  if (graph_info) {
    const auto* gdesc = proto::Graph::descriptor();
    auto line_of = [&](const char* field, int index) {
      auto loc = graph_info->GetLocation(gdesc->FindFieldByName(field), index);
      return loc.line >= 0 ? loc.line + 1 : 0;
    };
    for (size_t i = 0; i < model.graph.nodes.size(); ++i) model.graph.nodes[i].line = line_of("nodes", static_cast<int>(i));
    for (size_t i = 0; i < model.graph.inputs.size(); ++i) model.graph.inputs[i].line = line_of("inputs", static_cast<int>(i));
    for (size_t i = 0; i < model.graph.params.size(); ++i) model.graph.params[i].line = line_of("params", static_cast<int>(i));
  }
  return model;
}

Model parse_model_binary(const std::string& bytes, const std::string& source_name) {
  proto::Model m;
  if (!m.ParseFromString(bytes)) throw Error(source_name + ": not a valid binary model (protobuf parse failed)");
  Model model = model_from_proto(m);
  model.source = source_name;
  return model;
}

Model load_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open file");
  std::stringstream buf;
  buf << in.rdbuf();
  if (ends_with(path, ".pb")) return parse_model_binary(buf.str(), path);
  return parse_model_text(buf.str(), path);
}

}  // namespace dlc
