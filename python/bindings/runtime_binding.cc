// dlc._native.Runtime: a loaded executable, through libdlrt's C++ API
// (dlrt.hpp), so errors carry the C API's texts. Inputs are NumPy arrays,
// passed to the runtime without a copy when their dtype and layout are the
// ones the executable declares; input_copies() counts the conversions that
// were needed. Outputs are NumPy arrays the runtime writes into directly.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dlrt.hpp"
#include "ir/error.h"
#include "python/bindings/bindings.h"
#include <pybind11/stl.h>

namespace dlc::python {
namespace {

std::atomic<int64_t> g_input_copies{0};

const char* role_name(dlrt_role r) {
  switch (r) {
    case DLRT_ROLE_DATA: return "DATA";
    case DLRT_ROLE_LABEL: return "LABEL";
    case DLRT_ROLE_LEARNING_RATE: return "LEARNING_RATE";
    case DLRT_ROLE_STEP: return "STEP";
    default: return "";
  }
}

std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t k = 0; k < a.ndim(); ++k) s += (k ? ", " : "") + std::to_string(a.shape(k));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

/// `obj` as a C-contiguous array of `want`'s dtype `dt`: the same array when
/// it already is one, else a converted copy (counted). Refuses conversions
/// that lose kinds (float to integer); `what()` names the tensor in errors
/// (built only then: the common call must stay cheap).
template <typename What>
py::array conform_dtype(const py::handle& obj, const dlrt::TensorInfo& want, const py::dtype& dt, What what) {
  py::array a = py::isinstance<py::array>(obj) ? py::reinterpret_borrow<py::array>(obj) : py::array::ensure(obj);
  if (!a)
    throw Error(what() + " is " + want.type_str() + ", but a " + py::str(obj.get_type()).cast<std::string>() +
                " was given, which is not an array");
  bool same = a.dtype().is(dt) || a.dtype().equal(dt);
  if (same && (a.flags() & py::array::c_style)) return a;
  if (!same) {
    py::module_ np = py::module_::import("numpy");
    if (!np.attr("can_cast")(a.dtype(), dt, "same_kind").cast<bool>())
      throw Error(what() + " is " + want.type_str() + ", but an array of dtype " +
                  py::str(a.dtype()).cast<std::string>() + " was given");
  }
  ++g_input_copies;
  return py::array::ensure(a.attr("astype")(dt, py::arg("order") = "C"), py::array::c_style);
}

/// An entry point's inputs and outputs with their NumPy dtypes, looked up
/// once: making a numpy.dtype from its name costs about a microsecond.
struct Signature {
  std::vector<dlrt::TensorInfo> inputs, outputs;
  std::vector<py::dtype> input_dtypes, output_dtypes;
  std::vector<py::str> input_names, output_names;  // the dict keys, made once
  /// Whether a run is long enough to let other Python threads go on during
  /// it: releasing and taking back the GIL costs about a microsecond, 7% of
  /// a batch-1 MLP predict.
  bool long_running = false;
};

class PyRuntime {
 public:
  PyRuntime(dlrt::Model m, std::string name) : m_(std::move(m)), name_(std::move(name)) {}

  dlrt::Model& model() { return m_; }
  const std::string& name() const { return name_; }

  const Signature& signature(const std::string& entry) {
    auto it = signatures_.find(entry);
    if (it != signatures_.end()) return it->second;
    Signature s{m_.entry_inputs(entry), m_.entry_outputs(entry), {}, {}, {}, {}};
    for (const dlrt::TensorInfo& i : s.inputs) {
      s.input_dtypes.push_back(numpy_dtype(i.dtype));
      s.input_names.emplace_back(i.name);
    }
    for (const dlrt::TensorInfo& o : s.outputs) {
      s.output_dtypes.push_back(numpy_dtype(o.dtype));
      s.output_names.emplace_back(o.name);
    }
    int64_t elements = 0;
    for (const dlrt::TensorInfo& i : s.inputs) elements += i.numel;
    s.long_running = elements >= (int64_t{1} << 14) || entry == "train_step";
    return signatures_.emplace(entry, std::move(s)).first->second;
  }

  /// Runs `entry` once, on exactly its declared shapes.
  py::dict run(const std::string& entry, const py::dict& inputs, const py::object& wanted) {
    const Signature& sig = signature(entry);
    std::vector<py::array> keep;
    std::vector<dlrt_input> in = bind_inputs(entry, sig, inputs, &keep);
    py::dict result;
    std::vector<dlrt_output> out;
    for (const dlrt::TensorInfo* o : wanted_outputs(entry, sig, wanted)) {
      const size_t k = static_cast<size_t>(o - sig.outputs.data());
      py::array a(sig.output_dtypes[k], o->dims);
      out.push_back({o->name.c_str(), o->dtype, a.mutable_data(), o->numel});
      result[sig.output_names[k]] = a;
    }
    if (sig.long_running) {
      py::gil_scoped_release unlocked;
      m_.run(entry, in, out);
    } else {
      m_.run(entry, in, out);
    }
    return result;
  }

  /// predict on any number of rows: whole batches straight from the
  /// caller's arrays, the last one padded with zeros.
  py::dict predict(const py::dict& inputs, const py::object& wanted) {
    const std::string entry = "predict";
    const Signature& sig = signature(entry);
    const int64_t batch = m_.batch();
    // Every input of predict is batch-major: [batch, ...].
    std::vector<py::array> arrays;
    int64_t rows = -1;
    for (size_t k = 0; k < sig.inputs.size(); ++k) {
      const dlrt::TensorInfo& i = sig.inputs[k];
      auto what = [&] { return "input '" + i.name + "' of " + entry; };
      py::array a = given_input(entry, sig, k, inputs);
      int64_t per_row = i.numel / batch;
      if (a.ndim() < 1 || a.shape(0) < 1 || a.size() % a.shape(0) != 0 || a.size() / a.shape(0) != per_row)
        throw Error(what() + " takes rows of " + std::to_string(per_row) + " values (" + i.type_str() +
                    " per batch), but an array of shape " + shape_text(a) + " was given");
      if (rows >= 0 && a.shape(0) != rows)
        throw Error(what() + " has " + std::to_string(a.shape(0)) + " rows, but the other inputs have " +
                    std::to_string(rows));
      rows = a.shape(0);
      arrays.push_back(a);
    }
    check_no_unknown(entry, sig, inputs);
    if (rows < 0) throw Error(name_ + ": predict takes no inputs to count rows by");
    std::vector<const dlrt::TensorInfo*> outs = wanted_outputs(entry, sig, wanted);
    py::dict result;
    std::vector<py::array> results;
    for (const dlrt::TensorInfo* o : outs) {
      if (o->dims.empty() || o->dims[0] != batch)
        throw Error("output '" + o->name + "' of predict is " + o->type_str() + ", not one row per example");
      std::vector<int64_t> dims = o->dims;
      dims[0] = rows;
      py::array a(sig.output_dtypes[static_cast<size_t>(o - sig.outputs.data())], dims);
      results.push_back(a);
      result[py::str(o->name)] = a;
    }
    std::vector<std::vector<uint8_t>> pad_in(arrays.size()), pad_out(outs.size());
    std::vector<dlrt_input> in(arrays.size());
    std::vector<dlrt_output> out(outs.size());
    {
      py::gil_scoped_release unlocked;
      for (int64_t start = 0; start < rows; start += batch) {
        const int64_t count = std::min(batch, rows - start);
        for (size_t k = 0; k < arrays.size(); ++k) {
          const dlrt::TensorInfo& i = sig.inputs[k];
          const size_t row_bytes = static_cast<size_t>(i.numel / batch) * dlrt_dtype_size(i.dtype);
          const auto* src = static_cast<const uint8_t*>(arrays[k].data()) + start * row_bytes;
          if (count < batch) {  // the last, partial batch: zero rows after the data
            pad_in[k].assign(row_bytes * batch, 0);
            std::memcpy(pad_in[k].data(), src, row_bytes * count);
            src = pad_in[k].data();
          }
          in[k] = {i.name.c_str(), i.dtype, src, i.numel};
        }
        for (size_t k = 0; k < outs.size(); ++k) {
          const dlrt::TensorInfo& o = *outs[k];
          const size_t row_bytes = static_cast<size_t>(o.numel / batch) * dlrt_dtype_size(o.dtype);
          uint8_t* dst = static_cast<uint8_t*>(results[k].mutable_data()) + start * row_bytes;
          if (count < batch) {
            pad_out[k].resize(row_bytes * batch);
            dst = pad_out[k].data();
          }
          out[k] = {o.name.c_str(), o.dtype, dst, o.numel};
        }
        m_.run(entry, in, out);
        if (count < batch)
          for (size_t k = 0; k < outs.size(); ++k) {
            const size_t row_bytes = static_cast<size_t>(outs[k]->numel / batch) * dlrt_dtype_size(outs[k]->dtype);
            std::memcpy(static_cast<uint8_t*>(results[k].mutable_data()) + start * row_bytes, pad_out[k].data(),
                        row_bytes * count);
          }
      }
    }
    return result;
  }

  py::array get_param(const std::string& name) const {
    dlrt::TensorInfo info = find_param(name);
    py::array a(numpy_dtype(info.dtype), info.dims);
    m_.get_param(name, info.dtype, a.mutable_data(), info.numel);
    return a;
  }
  void set_param(const std::string& name, const py::object& value) {
    dlrt::TensorInfo info = find_param(name);
    auto what = [&] { return "parameter '" + name + "'"; };
    py::array a = conform_dtype(value, info, numpy_dtype(info.dtype), what);
    std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
    if (shape != info.dims)
      throw Error(what() + " is " + info.type_str() + ", but an array of shape " + shape_text(a) + " was given");
    m_.set_param(name, info.dtype, a.data(), info.numel);
  }

  py::list describe(const std::vector<dlrt::TensorInfo>& infos) const {
    py::list l;
    for (const dlrt::TensorInfo& i : infos) {
      py::dict d;
      d["name"] = i.name;
      d["dtype"] = numpy_dtype(i.dtype);
      d["shape"] = py::tuple(py::cast(i.dims));
      d["role"] = role_name(i.role);
      d["trainable"] = i.trainable;
      l.append(d);
    }
    return l;
  }

 private:
  dlrt::TensorInfo find_param(const std::string& name) const {
    dlrt_tensor_info info;
    dlrt::check(dlrt_find_param(m_.get(), name.c_str(), &info));
    return dlrt::TensorInfo(info);
  }

  /// Input `k` of `sig` from `inputs`, conformed to its dtype and layout.
  static py::array given_input(const std::string& entry, const Signature& sig, size_t k, const py::dict& inputs) {
    const dlrt::TensorInfo& i = sig.inputs[k];
    py::handle given = PyDict_GetItem(inputs.ptr(), sig.input_names[k].ptr());  // borrowed
    if (!given)
      throw Error("entry point '" + entry + "' needs input '" + i.name + "' " + i.type_str() + ", not given");
    return conform_dtype(given, i, sig.input_dtypes[k], [&] { return "input '" + i.name + "' of " + entry; });
  }

  std::vector<dlrt_input> bind_inputs(const std::string& entry, const Signature& sig, const py::dict& inputs,
                                      std::vector<py::array>* keep) {
    std::vector<dlrt_input> in;
    for (size_t k = 0; k < sig.inputs.size(); ++k) {
      const dlrt::TensorInfo& i = sig.inputs[k];
      auto what = [&] { return "input '" + i.name + "' of " + entry; };
      py::array a = given_input(entry, sig, k, inputs);
      if (a.ndim() != static_cast<py::ssize_t>(i.dims.size()) ||
          !std::equal(i.dims.begin(), i.dims.end(), a.shape()))
        throw Error(what() + " is " + i.type_str() + ", but an array of shape " + shape_text(a) + " was given");
      in.push_back({i.name.c_str(), i.dtype, a.data(), i.numel});
      keep->push_back(std::move(a));
    }
    check_no_unknown(entry, sig, inputs);
    return in;
  }

  void check_no_unknown(const std::string& entry, const Signature& sig, const py::dict& inputs) const {
    if (inputs.size() == sig.inputs.size()) return;  // every one was found by name
    std::string have;
    for (const dlrt::TensorInfo& i : sig.inputs) have += (have.empty() ? "" : ", ") + i.name;
    for (const auto& [key, value] : inputs) {
      std::string k = py::str(key).cast<std::string>();
      bool known = false;
      for (const dlrt::TensorInfo& i : sig.inputs) known |= i.name == k;
      if (!known) throw Error("entry point '" + entry + "' has no input '" + k + "' (its inputs: " + have + ")");
    }
  }

  std::vector<const dlrt::TensorInfo*> wanted_outputs(const std::string& entry, const Signature& sig,
                                                      const py::object& wanted) const {
    std::vector<const dlrt::TensorInfo*> outs;
    if (wanted.is_none()) {
      for (const dlrt::TensorInfo& o : sig.outputs) outs.push_back(&o);
      return outs;
    }
    for (const auto& w : wanted) {
      std::string name = py::str(w).cast<std::string>();
      const dlrt::TensorInfo* found = nullptr;
      for (const dlrt::TensorInfo& o : sig.outputs)
        if (o.name == name) found = &o;
      if (!found) {
        std::string have;
        for (const dlrt::TensorInfo& o : sig.outputs) have += (have.empty() ? "" : ", ") + o.name;
        throw Error("entry point '" + entry + "' has no output '" + name + "' (its outputs: " + have + ")");
      }
      outs.push_back(found);
    }
    return outs;
  }

  dlrt::Model m_;
  std::string name_;
  std::map<std::string, Signature> signatures_;
};

std::map<std::string, std::string> to_metadata(const py::object& meta) {
  std::map<std::string, std::string> out;
  if (meta.is_none()) return out;
  for (const auto& [k, v] : meta.cast<py::dict>()) out[py::str(k)] = py::str(v);
  return out;
}

}  // namespace

dlrt::Model& runtime_model(const py::object& runtime) { return runtime.cast<PyRuntime&>().model(); }
const std::string& runtime_name(const py::object& runtime) { return runtime.cast<PyRuntime&>().name(); }

void bind_runtime(py::module_& m) {
  py::class_<PyRuntime>(m, "Runtime")
      .def_static("load", [](const std::string& path) { return std::make_unique<PyRuntime>(dlrt::Model(path), path); })
      .def_static("from_bytes",
                  [](const py::bytes& data, const std::string& name) {
                    std::string_view view = data;
                    return std::make_unique<PyRuntime>(dlrt::Model::from_buffer(view.data(), view.size(), name), name);
                  })
      .def_property_readonly("name", &PyRuntime::name)
      .def_property_readonly("target", [](PyRuntime& r) { return r.model().target(); })
      .def_property_readonly("batch", [](PyRuntime& r) { return r.model().batch(); })
      .def_property_readonly("seed", [](PyRuntime& r) { return r.model().seed(); })
      .def_property_readonly("default_learning_rate", [](PyRuntime& r) { return r.model().default_learning_rate(); })
      .def_property_readonly("loss", [](PyRuntime& r) { return r.model().loss(); })
      .def_property_readonly("peak_memory", [](PyRuntime& r) { return r.model().peak_memory(); })
      .def("entries", [](PyRuntime& r) { return r.model().entries(); })
      .def("entry_inputs", [](PyRuntime& r, const std::string& e) { return r.describe(r.signature(e).inputs); })
      .def("entry_outputs", [](PyRuntime& r, const std::string& e) { return r.describe(r.signature(e).outputs); })
      .def("params", [](PyRuntime& r) { return r.describe(r.model().params()); })
      .def("run", &PyRuntime::run, py::arg("entry"), py::arg("inputs"), py::arg("outputs") = py::none())
      .def("predict", &PyRuntime::predict, py::arg("inputs"), py::arg("outputs") = py::none())
      .def("get_param", &PyRuntime::get_param)
      .def("set_param", &PyRuntime::set_param)
      .def("save_checkpoint",
           [](PyRuntime& r, const std::string& path, const py::object& meta) {
             r.model().save_checkpoint(path, to_metadata(meta));
           },
           py::arg("path"), py::arg("metadata") = py::none())
      .def("save_weights",
           [](PyRuntime& r, const std::string& path, const py::object& meta) {
             r.model().save_weights(path, to_metadata(meta));
           },
           py::arg("path"), py::arg("metadata") = py::none())
      .def("load_checkpoint", [](PyRuntime& r, const std::string& path) { return r.model().load_checkpoint(path); })
      .def("load_weights", [](PyRuntime& r, const std::string& path) { return r.model().load_weights(path); })
      .def("verify_fusion", [](PyRuntime& r, double tolerance) { r.model().verify_fusion(tolerance); })
      .def("fusion_report", [](PyRuntime& r) { return r.model().fusion_report(); });
  m.def("input_copies", [] { return g_input_copies.load(); },
        "How many inputs so far had to be converted (dtype or layout) before the runtime could take them");
}

}  // namespace dlc::python
