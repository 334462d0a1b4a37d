// `dlc import MODEL.onnx -o MODEL.pbtxt [flags]`: an ONNX model as a graph
// IR model file, with a training section from the flags.
#include <iostream>
#include <string>

#include "compiler/tool/commands.h"
#include "compiler/tool/onnx_flags.h"
#include "frontend/model_loader.h"
#include "ir/error.h"

namespace dlc {
namespace {

const std::string kUsage = std::string(
                               "usage: dlc import MODEL.onnx -o OUT.pbtxt [flags]\n"
                               "Converts an ONNX model (IR up to 10, opsets 13 to 20, from either PyTorch exporter)\n"
                               "into a dlc model file (.pbtxt text, or .pb binary). Parameters keep their ONNX\n"
                               "(PyTorch state_dict) names and layouts.\n\n") +
                           kOnnxFlagsUsage;

}  // namespace

int cmd_import(int argc, char** argv) {
  OnnxImportOptions onnx;
  std::string model_path, out_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error("dlc import: " + a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "-o") {
      out_path = value();
    } else if (take_onnx_flag(a, value, &onnx)) {
    } else if (!a.empty() && a[0] == '-') {
      std::cerr << "dlc import: unknown option " << a << "\n" << kUsage;
      return 2;
    } else if (model_path.empty()) {
      model_path = a;
    } else {
      std::cerr << "dlc import: more than one model given\n";
      return 2;
    }
  }
  if (model_path.empty() || out_path.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  if (!is_onnx_path(model_path)) throw Error(model_path + ": dlc import reads .onnx files");
  Model m = import_onnx(model_path, onnx);
  save_model(m, out_path);
  std::cout << "imported " << model_path << " -> " << out_path << " (" << m.graph.inputs.size() << " inputs, "
            << m.graph.params.size() << " parameters, " << m.graph.nodes.size() << " nodes"
            << (m.has_training() ? ", training with " + m.training.optimizer().kind() : ", inference only") << ")\n";
  return 0;
}

}  // namespace dlc
