// dlc._native.compile_graph / compile_file: the compiler pipeline of
// `dlc compile`, run in-process; the result is the executable's bytes, the
// same bytes `dlc compile` writes for the same model and options.
#include <string>

#include "compiler/pipeline.h"
#include "frontend/model_loader.h"
#include "kernel/executable.h"
#include "python/bindings/bindings.h"

namespace dlc::python {
namespace {

py::bytes compile_to_bytes(Model model, int64_t batch, const std::string& target, uint64_t seed, bool training,
                           const std::string& cpu, const std::string& gpu_arch) {
  if (batch < 1) throw Error("batch must be at least 1, not " + std::to_string(batch));
  CompileOptions opts;
  opts.target = target;
  opts.batch = batch;
  opts.seed = seed;
  opts.training = training;
  opts.cpu = cpu;
  opts.gpu_arch = gpu_arch;
  std::string source = model.source.empty() ? "<python graph>" : model.source;
  std::string bytes;
  {
    py::gil_scoped_release unlocked;  // LLVM takes seconds; other Python threads go on
    bytes = serialize_executable(compile_model(std::move(model), opts), source);
  }
  return py::bytes(bytes);
}

}  // namespace

void bind_compile(py::module_& m) {
  m.def(
      "compile_graph",
      [](const py::object& graph, int64_t batch, const std::string& target, uint64_t seed, bool training,
         const std::string& cpu, const std::string& gpu_arch) {
        const Model& model = model_of(graph);
        if (model.graph.outputs.empty() && !model.has_training())
          throw Error("<python graph>: the graph has no outputs and no training loss: nothing to compile "
                      "(mark one with Graph.output, or set a loss with Graph.train)");
        return compile_to_bytes(model, batch, target, seed, training, cpu, gpu_arch);
      },
      py::arg("graph"), py::arg("batch"), py::arg("target"), py::arg("seed"), py::arg("training"), py::arg("cpu"),
      py::arg("gpu_arch"));
  m.def(
      "compile_file",
      [](const std::string& path, int64_t batch, const std::string& target, uint64_t seed, bool training,
         const std::string& cpu, const std::string& gpu_arch) {
        return compile_to_bytes(load_model(path), batch, target, seed, training, cpu, gpu_arch);
      },
      py::arg("path"), py::arg("batch"), py::arg("target"), py::arg("seed"), py::arg("training"), py::arg("cpu"),
      py::arg("gpu_arch"));
}

}  // namespace dlc::python
