// The pieces of the extension module dlc._native, one file each, and what
// they share: the exception type and the dtype names.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "dlrt.hpp"
#include "ir/error.h"
#include "ir/graph.h"

namespace dlc::python {

namespace py = pybind11;

/// Graph building: GraphBuilder over a Model (graph_binding.cc).
void bind_graph(py::module_& m);
/// compile(): the compiler pipeline in-process (compile_binding.cc).
void bind_compile(py::module_& m);
/// Runtime: a loaded executable through the C++ API of libdlrt (runtime_binding.cc).
void bind_runtime(py::module_& m);
/// fit(): the training loop of `dlrun train` (training_binding.cc).
void bind_training(py::module_& m);

/// The model a dlc._native.GraphBuilder holds, and a new GraphBuilder
/// holding `m` (verified, so it can be extended).
const Model& model_of(const py::object& graph);
py::object graph_object(Model m);

/// import_onnx(): ONNX models as graphs (onnx_binding.cc).
void bind_onnx(py::module_& m);

/// The runtime model of a dlc._native.Runtime, and the name it was loaded as.
dlrt::Model& runtime_model(const py::object& runtime);
const std::string& runtime_name(const py::object& runtime);

/// The NumPy dtype of a runtime dtype.
py::dtype numpy_dtype(dlrt_dtype t);

}  // namespace dlc::python
