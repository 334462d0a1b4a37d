// The C API (include/dlrt.h) over Session: argument checks, exception to
// status translation, and the error text.
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "dlrt.h"
#include "kernel/executable.h"
#include "runtime/collectives/process_group.h"
#include "runtime/dlrt_model.h"
#include "runtime/session.h"

namespace {

thread_local std::string g_last_error;

dlrt_status fail(dlrt_status status, const std::string& text) {
  g_last_error = text;
  return status;
}

/// Runs `body`, turning exceptions into a status and the error text: caller
/// faults are DLRT_INVALID_ARGUMENT, other dlc::Errors `error_status`.
template <typename F> dlrt_status guarded(dlrt_status error_status, F&& body) {
  try {
    body();
    return DLRT_OK;
  } catch (const dlc::ArgumentError& e) {
    return fail(DLRT_INVALID_ARGUMENT, e.what());
  } catch (const dlc::Error& e) {
    return fail(error_status, e.what());
  } catch (const std::bad_alloc&) {
    return fail(DLRT_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(DLRT_INTERNAL_ERROR, std::string("internal error in dlrt: ") + e.what());
  } catch (...) {
    return fail(DLRT_INTERNAL_ERROR, "internal error in dlrt: unknown exception");
  }
}

/// Throws ArgumentError when a required pointer is null.
void require(const void* p, const char* what, const char* function) {
  if (!p) throw dlc::ArgumentError(std::string(function) + ": " + what + " is NULL");
}

#define REQUIRE(p) require((p), #p, __func__)

bool valid_dtype(dlrt_dtype d) { return d >= DLRT_F32 && d <= DLRT_BOOL; }

dlc::DType to_dtype(dlrt_dtype d, const std::string& what) {
  if (!valid_dtype(d)) throw dlc::ArgumentError(what + ": unknown dtype value " + std::to_string(static_cast<int>(d)));
  return dlc::from_proto(static_cast<dlc::proto::DType>(d));
}

void fill_info(const dlc::TensorInfo& t, dlrt_tensor_info* info) {
  info->name = t.name.c_str();
  info->dtype = static_cast<dlrt_dtype>(dlc::to_proto(t.type.dtype));
  info->rank = static_cast<int32_t>(t.type.dims.size());
  info->dims = t.type.dims.data();
  info->numel = t.type.numel();
  info->role = t.is_input ? static_cast<dlrt_role>(t.role) : DLRT_ROLE_NONE;
  info->trainable = t.trainable ? 1 : 0;
}

const dlc::TensorInfo& at_index(const std::vector<dlc::TensorInfo>& list, size_t index, const char* what) {
  if (index >= list.size())
    throw dlc::ArgumentError(std::string(what) + " index " + std::to_string(index) + " is out of range (there are " +
                             std::to_string(list.size()) + ")");
  return list[index];
}

/// A HostTensor holding a copy of a caller's buffer. The element count is
/// checked against the signature by Session; here it only sizes the copy.
dlc::HostTensor from_buffer(const void* data, dlrt_dtype dtype, int64_t numel, const std::string& what) {
  if (numel < 0) throw dlc::ArgumentError(what + ": negative element count " + std::to_string(numel));
  dlc::TensorType type{to_dtype(dtype, what), {numel}};
  if (numel == 0) return dlc::HostTensor(type);
  if (!data) throw dlc::ArgumentError(what + ": data is NULL");
  return dlc::HostTensor::copy_of(type, data);
}

/// Checks a caller's buffer description against a tensor type.
void check_buffer(const dlc::TensorType& type, const void* data, dlrt_dtype dtype, int64_t numel,
                  const std::string& what) {
  dlc::DType want = to_dtype(dtype, what);
  if (want != type.dtype)
    throw dlc::ArgumentError(what + " is " + type.str() + ", but a " + dlc::dtype_name(want) + " buffer was given");
  if (numel != type.numel())
    throw dlc::ArgumentError(what + " is " + type.str() + " (" + std::to_string(type.numel()) +
                             " elements), but the buffer holds " + std::to_string(numel));
  if (numel > 0 && !data) throw dlc::ArgumentError(what + ": data is NULL");
}

/// check_buffer, building the text that names the buffer only when it is
/// wrong. An input of the right dtype but the wrong count says how many
/// elements were given (the caller's count, not a buffer's size).
template <typename What>
void check_bound(const dlc::TensorType& type, const void* data, dlrt_dtype dtype, int64_t numel, const What& what,
                 bool input) {
  bool dtype_ok = valid_dtype(dtype) && dlc::from_proto(static_cast<dlc::proto::DType>(dtype)) == type.dtype;
  if (dtype_ok && numel == type.numel() && (numel == 0 || data)) return;
  if (input && dtype_ok && numel >= 0 && numel != type.numel())
    throw dlc::ArgumentError(what() + " is " + type.str() + " (" + std::to_string(type.numel()) + " elements), but " +
                             std::to_string(numel) + " elements were given");
  check_buffer(type, data, dtype, numel, what());
}

/// The index of the tensor called `name` in `tensors`, or tensors.size().
size_t index_of(const std::vector<dlc::TensorInfo>& tensors, const char* name) {
  for (size_t k = 0; k < tensors.size(); ++k)
    if (tensors[k].name == name) return k;
  return tensors.size();
}

/// Copies `value` into a caller's buffer after checking dtype and count.
void to_buffer(const dlc::HostTensor& value, void* data, dlrt_dtype dtype, int64_t numel, const std::string& what) {
  check_buffer(value.type, data, dtype, numel, what);
  if (!value.bytes.empty()) std::memcpy(data, value.bytes.data(), value.bytes.size());
}

}  // namespace

extern "C" {

const char* dlrt_last_error(void) { return g_last_error.c_str(); }

const char* dlrt_status_name(dlrt_status status) {
  switch (status) {
    case DLRT_OK: return "ok";
    case DLRT_INVALID_ARGUMENT: return "invalid argument";
    case DLRT_FILE_ERROR: return "file error";
    case DLRT_RUNTIME_ERROR: return "runtime error";
    case DLRT_OUT_OF_MEMORY: return "out of memory";
    case DLRT_INTERNAL_ERROR: return "internal error";
  }
  return "unknown status";
}

const char* dlrt_dtype_name(dlrt_dtype dtype) {
  return valid_dtype(dtype) ? dlc::dtype_name(dlc::from_proto(static_cast<dlc::proto::DType>(dtype))) : "?";
}

size_t dlrt_dtype_size(dlrt_dtype dtype) {
  return valid_dtype(dtype) ? static_cast<size_t>(dlc::dtype_size(dlc::from_proto(static_cast<dlc::proto::DType>(dtype))))
                            : 0;
}

uint32_t dlrt_format_version(void) { return dlc::kFormatVersion; }

namespace {

/// Opens the executable `read` returns; `source` names it in errors, and
/// `function` and `source_param` name the C API call and its argument.
extern "C++" template <typename Read>
dlrt_status open_model(const char* source, dlrt_model** model, dlc::Session::Purpose purpose, const char* function,
                       const char* source_param, Read read) {
  dlc::proto::Executable exe;
  dlrt_status s = guarded(DLRT_FILE_ERROR, [&] {
    require(source, source_param, function);
    require(model, "model", function);
    exe = read();
  });
  if (s != DLRT_OK) return s;
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    auto m = std::make_unique<dlrt_model>();
    m->session = std::make_unique<dlc::Session>(std::move(exe), source, purpose);
    *model = m.release();
  });
}

dlrt_status open_model(const char* path, dlrt_model** model, dlc::Session::Purpose purpose) {
  return open_model(path, model, purpose, "dlrt_model_load", "path", [&] { return dlc::load_executable(path); });
}

}  // namespace

dlrt_status dlrt_model_load(const char* path, dlrt_model** model) {
  return open_model(path, model, dlc::Session::Purpose::run);
}

dlrt_status dlrt_model_inspect(const char* path, dlrt_model** model) {
  return open_model(path, model, dlc::Session::Purpose::inspect);
}

dlrt_status dlrt_model_load_buffer(const void* data, size_t size, const char* name, dlrt_model** model) {
  return open_model(name, model, dlc::Session::Purpose::run, "dlrt_model_load_buffer", "name", [&] {
    if (!data && size > 0) throw dlc::ArgumentError("dlrt_model_load_buffer: data is NULL");
    return dlc::parse_executable(std::string(static_cast<const char*>(data), size), name);
  });
}

void dlrt_model_free(dlrt_model* model) { delete model; }

dlrt_status dlrt_model_target(const dlrt_model* model, const char** target) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(target);
    *target = model->session->executable().target().c_str();
  });
}

dlrt_status dlrt_model_gpu_arch(const dlrt_model* model, const char** arch) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(arch);
    *arch = model->session->executable().gpu_arch().c_str();
  });
}

dlrt_status dlrt_model_batch(const dlrt_model* model, int64_t* batch) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(batch);
    *batch = model->session->executable().batch();
  });
}

dlrt_status dlrt_model_seed(const dlrt_model* model, uint64_t* seed) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(seed);
    *seed = model->session->executable().seed();
  });
}

dlrt_status dlrt_model_data_parallel(const dlrt_model* model, int* data_parallel) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(data_parallel);
    *data_parallel = model->session->executable().data_parallel() ? 1 : 0;
  });
}

dlrt_status dlrt_process_group(int* rank, int* size) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(rank);
    REQUIRE(size);
    dlc::ProcessGroup& g = dlc::ProcessGroup::get();
    *rank = g.rank();
    *size = g.size();
  });
}

dlrt_status dlrt_model_default_learning_rate(const dlrt_model* model, double* learning_rate) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(learning_rate);
    *learning_rate = model->session->executable().default_learning_rate();
  });
}

dlrt_status dlrt_model_loss(const dlrt_model* model, const char** name) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(name);
    *name = model->session->executable().loss().c_str();
  });
}

dlrt_status dlrt_model_peak_memory(const dlrt_model* model, int64_t* bytes) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(bytes);
    *bytes = model->session->peak_memory_bytes();
  });
}

dlrt_status dlrt_model_verify_fusion(dlrt_model* model, double tolerance) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    model->session->verify_fusion(tolerance);
  });
}

dlrt_status dlrt_model_fusion_report(dlrt_model* model, const char** text) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(text);
    model->fusion_report.clear();
    for (const auto& line : model->session->fusion_reports())
      model->fusion_report += (model->fusion_report.empty() ? "" : "\n") + line;
    *text = model->fusion_report.c_str();
  });
}

dlrt_status dlrt_model_input_count(const dlrt_model* model, size_t* count) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(count);
    *count = model->session->inputs().size();
  });
}

dlrt_status dlrt_model_input(const dlrt_model* model, size_t index, dlrt_tensor_info* info) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(info);
    fill_info(at_index(model->session->inputs(), index, "input"), info);
  });
}

dlrt_status dlrt_model_output_count(const dlrt_model* model, size_t* count) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(count);
    *count = model->session->outputs().size();
  });
}

dlrt_status dlrt_model_output(const dlrt_model* model, size_t index, dlrt_tensor_info* info) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(info);
    fill_info(at_index(model->session->outputs(), index, "output"), info);
  });
}

dlrt_status dlrt_entry_count(const dlrt_model* model, size_t* count) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(count);
    *count = model->session->entries().size();
  });
}

dlrt_status dlrt_entry_name(const dlrt_model* model, size_t index, const char** name) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(name);
    const auto& entries = model->session->entries();
    if (index >= entries.size())
      throw dlc::ArgumentError("entry point index " + std::to_string(index) + " is out of range (there are " +
                               std::to_string(entries.size()) + ")");
    *name = entries[index].name.c_str();
  });
}

dlrt_status dlrt_has_entry(const dlrt_model* model, const char* entry, int* present) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(entry);
    REQUIRE(present);
    *present = 0;
    for (const auto& e : model->session->entries())
      if (e.name == entry) *present = 1;
  });
}

dlrt_status dlrt_entry_input_count(const dlrt_model* model, const char* entry, size_t* count) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(entry);
    REQUIRE(count);
    *count = model->session->entry(entry).inputs.size();
  });
}

dlrt_status dlrt_entry_input(const dlrt_model* model, const char* entry, size_t index, dlrt_tensor_info* info) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(entry);
    REQUIRE(info);
    fill_info(at_index(model->session->entry(entry).inputs, index, "entry point input"), info);
  });
}

dlrt_status dlrt_entry_output_count(const dlrt_model* model, const char* entry, size_t* count) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(entry);
    REQUIRE(count);
    *count = model->session->entry(entry).outputs.size();
  });
}

dlrt_status dlrt_entry_output(const dlrt_model* model, const char* entry, size_t index, dlrt_tensor_info* info) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(entry);
    REQUIRE(info);
    fill_info(at_index(model->session->entry(entry).outputs, index, "entry point output"), info);
  });
}

dlrt_status dlrt_entry_update_count(const dlrt_model* model, const char* entry, size_t* count) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(entry);
    REQUIRE(count);
    *count = model->session->entry(entry).updated.size();
  });
}

dlrt_status dlrt_run(dlrt_model* model, const char* entry, const dlrt_input* inputs, size_t num_inputs,
                     dlrt_output* outputs, size_t num_outputs) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(entry);
    if (num_inputs > 0) REQUIRE(inputs);
    if (num_outputs > 0) REQUIRE(outputs);
    const dlc::EntryInfo& e = model->session->entry(entry);
    // The call's buffers in the entry point's order, checked without
    // building any text unless one is wrong; the per-call cost is a few
    // comparisons per tensor (bench/python_api, dlrun bench --profile).
    std::vector<const void*>& in = model->bound_inputs;
    std::vector<void*>& out = model->bound_outputs;
    std::vector<char>& given = model->given_inputs;
    in.assign(e.inputs.size(), nullptr);
    given.assign(e.inputs.size(), 0);
    out.assign(e.outputs.size(), nullptr);
    for (size_t i = 0; i < num_inputs; ++i) {
      const dlrt_input& b = inputs[i];
      if (!b.name) throw dlc::ArgumentError("dlrt_run: the name of input #" + std::to_string(i) + " is NULL");
      auto what = [&] { return "input '" + std::string(b.name) + "' of '" + entry + "'"; };
      size_t k = index_of(e.inputs, b.name);
      if (k == e.inputs.size()) {
        std::string have;
        for (const auto& t : e.inputs) have += (have.empty() ? "" : ", ") + t.name;
        throw dlc::ArgumentError("entry point '" + std::string(entry) + "' has no input '" + b.name +
                                 "' (its inputs: " + have + ")");
      }
      if (given[k]) throw dlc::ArgumentError(what() + " is given twice");
      check_bound(e.inputs[k].type, b.data, b.dtype, b.numel, what, /*input=*/true);
      given[k] = 1;
      in[k] = b.data;
    }
    for (size_t k = 0; k < e.inputs.size(); ++k)
      if (!given[k])
        throw dlc::ArgumentError("entry point '" + std::string(entry) + "' needs input '" + e.inputs[k].name + "' " +
                                 e.inputs[k].type.str() + ", not given");
    // Outputs are checked before running, so a bad buffer never costs (or
    // half-applies) a training step.
    for (size_t i = 0; i < num_outputs; ++i) {
      const dlrt_output& b = outputs[i];
      if (!b.name) throw dlc::ArgumentError("dlrt_run: the name of output #" + std::to_string(i) + " is NULL");
      auto what = [&] { return "output '" + std::string(b.name) + "' of '" + entry + "'"; };
      size_t k = index_of(e.outputs, b.name);
      if (k == e.outputs.size()) throw dlc::ArgumentError(model->session->missing_output_message(entry, b.name));
      if (out[k]) throw dlc::ArgumentError(what() + " is asked for twice");
      check_bound(e.outputs[k].type, b.data, b.dtype, b.numel, what, /*input=*/false);
      out[k] = b.data;  // an empty output's may be NULL: nothing is written
    }
    model->session->run_bound(entry, in.data(), out.data());
  });
}

dlrt_status dlrt_param_count(const dlrt_model* model, size_t* count) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(count);
    *count = model->session->params().size();
  });
}

dlrt_status dlrt_param(const dlrt_model* model, size_t index, dlrt_tensor_info* info) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(info);
    fill_info(at_index(model->session->params(), index, "parameter"), info);
  });
}

dlrt_status dlrt_find_param(const dlrt_model* model, const char* name, dlrt_tensor_info* info) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(name);
    REQUIRE(info);
    fill_info(model->session->param(name), info);
  });
}

dlrt_status dlrt_get_param(const dlrt_model* model, const char* name, dlrt_dtype dtype, void* data, int64_t numel) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(name);
    to_buffer(model->session->get_param(name), data, dtype, numel, "parameter '" + std::string(name) + "'");
  });
}

dlrt_status dlrt_set_param(dlrt_model* model, const char* name, dlrt_dtype dtype, const void* data, int64_t numel) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(name);
    std::string what = "parameter '" + std::string(name) + "'";
    model->session->param(name);  // an unknown name is reported before the buffer
    model->session->set_param(name, from_buffer(data, dtype, numel, what));
  });
}

namespace {

/// The metadata entries as a map; `function` names the caller in errors.
extern "C++" std::map<std::string, std::string> metadata_map(const dlrt_metadata* metadata, size_t num_metadata,
                                                const char* function) {
  if (num_metadata > 0) require(metadata, "metadata", function);
  std::map<std::string, std::string> meta;
  for (size_t i = 0; i < num_metadata; ++i) {
    if (!metadata[i].key || !metadata[i].value)
      throw dlc::ArgumentError(std::string(function) + ": metadata entry #" + std::to_string(i) +
                               " has a NULL key or value");
    if (!meta.emplace(metadata[i].key, metadata[i].value).second)
      throw dlc::ArgumentError(std::string(function) + ": metadata key '" + std::string(metadata[i].key) +
                               "' is given twice");
  }
  return meta;
}

}  // namespace

dlrt_status dlrt_save_checkpoint(const dlrt_model* model, const char* path, const dlrt_metadata* metadata,
                                 size_t num_metadata) {
  return guarded(DLRT_FILE_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(path);
    model->session->save_checkpoint(path, metadata_map(metadata, num_metadata, "dlrt_save_checkpoint"));
  });
}

dlrt_status dlrt_save_weights(const dlrt_model* model, const char* path, const dlrt_metadata* metadata,
                              size_t num_metadata) {
  return guarded(DLRT_FILE_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(path);
    model->session->save_weights(path, metadata_map(metadata, num_metadata, "dlrt_save_weights"));
  });
}

namespace {

dlrt_status restore(dlrt_model* model, const char* path, bool strict) {
  return guarded(DLRT_FILE_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(path);
    auto meta = strict ? model->session->load_checkpoint(path) : model->session->load_weights(path);
    model->metadata.assign(meta.begin(), meta.end());
  });
}

}  // namespace

dlrt_status dlrt_load_checkpoint(dlrt_model* model, const char* path) { return restore(model, path, true); }

dlrt_status dlrt_load_weights(dlrt_model* model, const char* path) { return restore(model, path, false); }

dlrt_status dlrt_checkpoint_meta_count(const dlrt_model* model, size_t* count) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(count);
    *count = model->metadata.size();
  });
}

dlrt_status dlrt_checkpoint_meta(const dlrt_model* model, size_t index, const char** key, const char** value) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(key);
    REQUIRE(value);
    if (index >= model->metadata.size())
      throw dlc::ArgumentError("metadata index " + std::to_string(index) + " is out of range (there are " +
                               std::to_string(model->metadata.size()) + ")");
    *key = model->metadata[index].first.c_str();
    *value = model->metadata[index].second.c_str();
  });
}

dlrt_status dlrt_checkpoint_meta_get(const dlrt_model* model, const char* key, const char** value) {
  return guarded(DLRT_RUNTIME_ERROR, [&] {
    REQUIRE(model);
    REQUIRE(key);
    REQUIRE(value);
    *value = nullptr;
    for (const auto& [k, v] : model->metadata)
      if (k == key) *value = v.c_str();
  });
}

}  // extern "C"
