// dlc._native.import_onnx: an ONNX file as a graph (frontend/onnx), with the
// training section the options describe, for dlc.import_onnx.
#include <google/protobuf/text_format.h>

#include "frontend/onnx/onnx_import.h"
#include "python/bindings/bindings.h"
#include <pybind11/stl.h>

namespace dlc::python {

void bind_onnx(py::module_& m) {
  m.def("import_onnx", [](const std::string& path, const py::dict& o) {
    OnnxImportOptions options;
    auto text = [&](const char* key) { return o.contains(key) && !o[key].is_none() ? o[key].cast<std::string>() : ""; };
    options.loss = text("loss");
    options.loss_output = text("loss_output");
    if (!text("label").empty()) options.label = text("label");
    options.label_dtype = text("label_dtype");
    if (!text("optimizer").empty() &&
        !google::protobuf::TextFormat::ParseFromString(text("optimizer"), &options.optimizer))
      throw Error("cannot read the optimizer '" + text("optimizer") + "'");
    if (o.contains("regularization"))
      for (const auto& r : o["regularization"]) {
        proto::Regularizer reg;
        if (!google::protobuf::TextFormat::ParseFromString(r.cast<std::string>(), &reg))
          throw Error("cannot read the regularizer '" + r.cast<std::string>() + "'");
        options.regularization.push_back(reg);
      }
    if (o.contains("trainable")) options.trainable = o["trainable"].cast<std::vector<std::string>>();
    if (o.contains("frozen")) options.frozen = o["frozen"].cast<std::vector<std::string>>();
    return graph_object(import_onnx(path, options));
  });
}

}  // namespace dlc::python
