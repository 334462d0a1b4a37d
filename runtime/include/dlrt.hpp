// dlrt.hpp: a thin header-only C++ wrapper over the C API (dlrt.h).
//
// Failing calls throw dlrt::Error carrying the status and dlrt_last_error()'s
// text; the model handle is freed by the destructor. Tools (dlrun) and C++
// applications use this; it adds no behaviour of its own.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dlrt.h"

namespace dlrt {

/// A failed dlrt call: `status()` says what kind, what() the error text.
class Error : public std::runtime_error {
 public:
  Error(dlrt_status status, const std::string& text) : std::runtime_error(text), status_(status) {}
  dlrt_status status() const { return status_; }

 private:
  dlrt_status status_;
};

/// Throws dlrt::Error unless `s` is DLRT_OK.
inline void check(dlrt_status s) {
  if (s != DLRT_OK) throw Error(s, dlrt_last_error());
}

/// dlrt_tensor_info with owned strings and dims.
struct TensorInfo {
  std::string name;
  dlrt_dtype dtype = DLRT_F32;
  std::vector<int64_t> dims;
  int64_t numel = 0;
  dlrt_role role = DLRT_ROLE_NONE;
  bool trainable = false;

  explicit TensorInfo(const dlrt_tensor_info& i)
      : name(i.name), dtype(i.dtype), dims(i.dims, i.dims + i.rank), numel(i.numel), role(i.role),
        trainable(i.trainable != 0) {}
  /// "f32[4,784]".
  std::string type_str() const {
    std::string s = std::string(dlrt_dtype_name(dtype)) + "[";
    for (size_t k = 0; k < dims.size(); ++k) s += (k ? "," : "") + std::to_string(dims[k]);
    return s + "]";
  }
};

/// A loaded executable (dlrt_model), move-only.
class Model {
 public:
  /// Loads `path`; throws dlrt::Error (DLRT_FILE_ERROR for a bad file).
  explicit Model(const std::string& path) { check(dlrt_model_load(path.c_str(), &m_)); }
  /// Loads `path` only to describe it (dlrt_model_inspect): no executor.
  /// An executable's bytes in memory; `name` stands for the file in errors.
  static Model from_buffer(const void* data, size_t size, const std::string& name) {
    Model m;
    check(dlrt_model_load_buffer(data, size, name.c_str(), &m.m_));
    return m;
  }
  static Model inspect(const std::string& path) {
    Model m;
    check(dlrt_model_inspect(path.c_str(), &m.m_));
    return m;
  }
  ~Model() { dlrt_model_free(m_); }
  Model(Model&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  Model& operator=(Model&& o) noexcept {
    std::swap(m_, o.m_);
    return *this;
  }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  dlrt_model* get() const { return m_; }

  std::string target() const { return str(dlrt_model_target); }
  std::string gpu_arch() const { return str(dlrt_model_gpu_arch); }
  int64_t batch() const { return value<int64_t>(dlrt_model_batch); }
  uint64_t seed() const { return value<uint64_t>(dlrt_model_seed); }
  double default_learning_rate() const { return value<double>(dlrt_model_default_learning_rate); }
  /// Compiled with --data-parallel.
  bool data_parallel() const { return value<int>(dlrt_model_data_parallel) != 0; }
  /// "" when the model does not train.
  std::string loss() const { return str(dlrt_model_loss); }
  /// -1 when not recorded.
  int64_t peak_memory() const { return value<int64_t>(dlrt_model_peak_memory); }

  std::vector<TensorInfo> inputs() const { return list(dlrt_model_input_count, dlrt_model_input); }
  std::vector<TensorInfo> outputs() const { return list(dlrt_model_output_count, dlrt_model_output); }
  std::vector<TensorInfo> params() const { return list(dlrt_param_count, dlrt_param); }

  std::vector<std::string> entries() const {
    size_t n = 0;
    check(dlrt_entry_count(m_, &n));
    std::vector<std::string> names;
    for (size_t i = 0; i < n; ++i) {
      const char* name = nullptr;
      check(dlrt_entry_name(m_, i, &name));
      names.emplace_back(name);
    }
    return names;
  }
  bool has_entry(const std::string& entry) const {
    int present = 0;
    check(dlrt_has_entry(m_, entry.c_str(), &present));
    return present != 0;
  }
  std::vector<TensorInfo> entry_inputs(const std::string& entry) const {
    return entry_list(entry, dlrt_entry_input_count, dlrt_entry_input);
  }
  std::vector<TensorInfo> entry_outputs(const std::string& entry) const {
    return entry_list(entry, dlrt_entry_output_count, dlrt_entry_output);
  }
  size_t entry_update_count(const std::string& entry) const {
    size_t n = 0;
    check(dlrt_entry_update_count(m_, entry.c_str(), &n));
    return n;
  }

  /// dlrt_run: every input of `entry`, and the outputs wanted.
  void run(const std::string& entry, const std::vector<dlrt_input>& inputs, std::vector<dlrt_output>& outputs) {
    check(dlrt_run(m_, entry.c_str(), inputs.data(), inputs.size(), outputs.data(), outputs.size()));
  }

  /// See dlrt_model_verify_fusion.
  void verify_fusion(double tolerance) { check(dlrt_model_verify_fusion(m_, tolerance)); }
  std::string fusion_report() {
    const char* text = nullptr;
    check(dlrt_model_fusion_report(m_, &text));
    return text;
  }

  void get_param(const std::string& name, dlrt_dtype dtype, void* data, int64_t numel) const {
    check(dlrt_get_param(m_, name.c_str(), dtype, data, numel));
  }
  void set_param(const std::string& name, dlrt_dtype dtype, const void* data, int64_t numel) {
    check(dlrt_set_param(m_, name.c_str(), dtype, data, numel));
  }

  void save_checkpoint(const std::string& path, const std::map<std::string, std::string>& metadata = {}) const {
    std::vector<dlrt_metadata> meta;
    for (const auto& [k, v] : metadata) meta.push_back({k.c_str(), v.c_str()});
    check(dlrt_save_checkpoint(m_, path.c_str(), meta.data(), meta.size()));
  }
  /// Restores every persistent tensor; returns the checkpoint's metadata.
  void save_weights(const std::string& path, const std::map<std::string, std::string>& metadata = {}) const {
    std::vector<dlrt_metadata> meta;
    for (const auto& [k, v] : metadata) meta.push_back({k.c_str(), v.c_str()});
    check(dlrt_save_weights(m_, path.c_str(), meta.data(), meta.size()));
  }
  std::map<std::string, std::string> load_checkpoint(const std::string& path) {
    check(dlrt_load_checkpoint(m_, path.c_str()));
    return metadata();
  }
  /// Restores the trained weights only; returns the checkpoint's metadata.
  std::map<std::string, std::string> load_weights(const std::string& path) {
    check(dlrt_load_weights(m_, path.c_str()));
    return metadata();
  }
  /// Metadata of the last checkpoint loaded.
  std::map<std::string, std::string> metadata() const {
    size_t n = 0;
    check(dlrt_checkpoint_meta_count(m_, &n));
    std::map<std::string, std::string> meta;
    for (size_t i = 0; i < n; ++i) {
      const char* k = nullptr;
      const char* v = nullptr;
      check(dlrt_checkpoint_meta(m_, i, &k, &v));
      meta[k] = v;
    }
    return meta;
  }

 private:
  template <typename T> T value(dlrt_status (*f)(const dlrt_model*, T*)) const {
    T v{};
    check(f(m_, &v));
    return v;
  }
  std::string str(dlrt_status (*f)(const dlrt_model*, const char**)) const {
    const char* s = nullptr;
    check(f(m_, &s));
    return s;
  }
  std::vector<TensorInfo> list(dlrt_status (*count)(const dlrt_model*, size_t*),
                               dlrt_status (*at)(const dlrt_model*, size_t, dlrt_tensor_info*)) const {
    size_t n = 0;
    check(count(m_, &n));
    std::vector<TensorInfo> out;
    for (size_t i = 0; i < n; ++i) {
      dlrt_tensor_info info;
      check(at(m_, i, &info));
      out.emplace_back(info);
    }
    return out;
  }
  std::vector<TensorInfo> entry_list(const std::string& entry,
                                     dlrt_status (*count)(const dlrt_model*, const char*, size_t*),
                                     dlrt_status (*at)(const dlrt_model*, const char*, size_t, dlrt_tensor_info*)) const {
    size_t n = 0;
    check(count(m_, entry.c_str(), &n));
    std::vector<TensorInfo> out;
    for (size_t i = 0; i < n; ++i) {
      dlrt_tensor_info info;
      check(at(m_, entry.c_str(), i, &info));
      out.emplace_back(info);
    }
    return out;
  }

  Model() = default;  // for inspect()
  dlrt_model* m_ = nullptr;
};

}  // namespace dlrt
