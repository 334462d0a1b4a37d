// dlc._native: the C++ half of the Python package. Errors from the compiler
// (dlc::Error) and the runtime (dlrt::Error) become dlc.Error with the same
// one-line text the C API and the command-line tools give.
#include "python/bindings/bindings.h"

#include "dlrt.hpp"
#include "ir/error.h"

namespace dlc::python {

py::dtype numpy_dtype(dlrt_dtype t) {
  switch (t) {
    case DLRT_F32: return py::dtype("float32");
    case DLRT_F64: return py::dtype("float64");
    case DLRT_I32: return py::dtype("int32");
    case DLRT_I64: return py::dtype("int64");
    case DLRT_BOOL: return py::dtype("bool");
  }
  throw Error("unknown runtime dtype " + std::to_string(static_cast<int>(t)));
}

}  // namespace dlc::python

PYBIND11_MODULE(_native, m) {
  namespace py = pybind11;
  m.doc() = "The compiler and runtime of dlc, for the dlc Python package";
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> error;
  error.call_once_and_store_result([&] { return py::exception<dlc::Error>(m, "Error", PyExc_RuntimeError); });
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const dlrt::Error& e) {
      py::set_error(error.get_stored(), e.what());
    } catch (const dlc::Error& e) {
      py::set_error(error.get_stored(), e.what());
    }
  });
  dlc::python::bind_graph(m);
  dlc::python::bind_compile(m);
  dlc::python::bind_runtime(m);
  dlc::python::bind_training(m);
  dlc::python::bind_onnx(m);
}
