// `dlrun predict MODEL.dlc --input X.npy --output Y.npy`: runs the predict
// entry point over every row of the input, one bound batch at a time.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dlrt.hpp"
#include "ir/error.h"
#include "ir/number_text.h"
#include "ir/printer.h"  // format_number
#include "runtime/npy.h"
#include "runtime/tool/commands.h"
#include "runtime/training/supervised_model.h"

namespace dlc {
namespace {

constexpr const char* kUsage =
    "usage: dlrun predict MODEL.dlc --input [NAME=]X.npy --output [NAME=]Y.npy\n"
    "                     [--weights CHECKPOINT.safetensors]\n"
    "\n"
    "Runs MODEL's predict entry point on every row of X.npy and writes the\n"
    "results to Y.npy. X may hold any number of rows: they run in batches of\n"
    "the model's bound batch size, the last one padded with zeros and the\n"
    "padded rows dropped from the output. A row may be shaped differently from\n"
    "the model's input if it holds the same number of values (e.g. [N,28,28],\n"
    "[N,1,28,28] or [N,784] images for any of those inputs); numeric types\n"
    "convert to the input's type.\n"
    "\n"
    "options:\n"
    "  --input [NAME=]FILE    an .npy file for input NAME; the name may be left\n"
    "                         out when predict takes one input. Repeat for more.\n"
    "  --output [NAME=]FILE   where to write output NAME as .npy; the name may be\n"
    "                         left out when predict has one output. Repeat for more.\n"
    "  --weights FILE         load trained weights (a checkpoint from dlrun train)\n"
    "  --verify-fusion[=TOL]  run the first batch kernel by kernel against the reference\n"
    "                         interpreter; stop at the first kernel off by more than TOL\n"
    "                         (|got - want| / max(|want|, 1), default 1e-4)\n";

std::string list_names(const std::vector<dlrt::TensorInfo>& list) {
  std::string s;
  for (const auto& t : list) s += (s.empty() ? "" : ", ") + t.name;
  return s.empty() ? "none" : s;
}

const dlrt::TensorInfo* find_info(const std::vector<dlrt::TensorInfo>& list, const std::string& name) {
  for (const auto& t : list)
    if (t.name == name) return &t;
  return nullptr;
}

DType to_dtype(dlrt_dtype d) { return from_proto(static_cast<proto::DType>(d)); }

/// Whether `v` converts to a `want` value unchanged: a whole number within
/// the integer type's range (casting 1e300 to an integer is undefined and
/// gives garbage), 0 or 1 for a bool, anything for a float.
bool fits_dtype(double v, DType want) {
  if (is_float(want)) return true;
  if (want == DType::boolean) return v == 0 || v == 1;
  // 2^31 and 2^63 are exact doubles; the ranges are [-2^31, 2^31) and [-2^63, 2^63).
  double limit = want == DType::i32 ? 0x1p31 : 0x1p63;
  return std::trunc(v) == v && v >= -limit && v < limit;
}

/// `t` converted to `want`; float values become integers or bools only when
/// they are whole numbers in range (or 0/1), so no label is silently truncated.
HostTensor convert(const HostTensor& t, DType want, const std::string& file, const std::string& input) {
  if (t.type.dtype == want) return t;
  HostTensor out(TensorType{want, t.type.dims});
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = t.get(i);
    if (!fits_dtype(v, want))
      throw Error(file + ": element " + std::to_string(i) + " is " + format_number(v) + ", which input '" + input +
                  "' (" + dtype_name(want) + ") cannot hold");
    out.set(i, v);
  }
  return out;
}

struct Options {
  std::string model, weights;
  double fusion_tolerance = 0;  // > 0: --verify-fusion
  std::vector<Binding> inputs, outputs;
};

/// Parses the command line; returns 0 to go on, or an exit status.
int parse_options(int argc, char** argv, Options* o) {
  std::vector<Argument> args;
  if (int status = split_arguments(argc, argv, {"--input", "--output", "--weights"}, "predict", kUsage, &args))
    return status;
  try {  // a bad number is a usage error
    for (const Argument& a : args) {
      const std::string &flag = a.flag, &value = a.value;
      if (flag == "--input") o->inputs.push_back(parse_binding(value));
      else if (flag == "--output") o->outputs.push_back(parse_binding(value));
      else if (flag == "--weights") o->weights = value;
      else if (flag == "--verify-fusion")
        o->fusion_tolerance =
            value.empty() ? kDefaultFusionTolerance : parse_real_option(flag, value, RealRange::positive());
      else if (a.is_option() || !o->model.empty()) return unexpected_argument("predict", a, kUsage);
      else o->model = a.text;
    }
  } catch (const Error& e) {
    return usage_error("predict", e.what(), "");
  }
  if (o->model.empty() || o->inputs.empty() || o->outputs.empty())
    return usage_error("predict", "needs MODEL.dlc, --input and --output", kUsage);
  return 0;
}

/// ": it needs ..." when `name` is an output of train_step that predict
/// lacks: the compiler leaves out of predict what needs a LABEL input.
std::string unavailable_reason(const dlrt::Model& m, const std::string& name, const std::string& kind) {
  if (kind != "output" || !m.has_entry("train_step") || !find_info(m.entry_outputs("train_step"), name)) return "";
  std::string labels;
  for (const auto& in : m.inputs())
    if (in.role == DLRT_ROLE_LABEL) labels += (labels.empty() ? "'" : ", '") + in.name + "'";
  return ": it needs the model's LABEL input (" + labels + "), which predict does not take; train_step computes it";
}

/// Resolves bindings against a signature: a nameless one is allowed when
/// the signature has exactly one entry. `kind` is "input" or "output".
std::map<std::string, std::string> resolve(const std::vector<Binding>& bindings,
                                           const std::vector<dlrt::TensorInfo>& signature, const dlrt::Model& m,
                                           const std::string& model, const char* kind) {
  std::map<std::string, std::string> files;
  for (const auto& b : bindings) {
    std::string name = b.name;
    if (name.empty()) {
      if (signature.size() != 1)
        throw Error(model + ": predict has " + std::to_string(signature.size()) + " " + kind + "s (" +
                    list_names(signature) + "); say which with --" + kind + " NAME=FILE");
      name = signature[0].name;
    }
    if (!find_info(signature, name))
      throw Error(model + ": predict has no " + kind + " '" + name + "'" + unavailable_reason(m, name, kind) +
                  " (its " + kind + "s: " + list_names(signature) + ")");
    if (!files.emplace(name, b.file).second) throw Error(std::string(kind) + " '" + name + "' is given twice");
  }
  return files;
}

/// Values per row of a tensor whose first dimension is the row count.
int64_t row_size(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
  return n;
}

}  // namespace

int cmd_predict(int argc, char** argv) {
  Options opt;
  if (int status = parse_options(argc, argv, &opt); status != 0) return status < 0 ? 0 : status;

  dlrt::Model m(opt.model);
  if (!m.has_entry("predict")) throw Error(opt.model + ": the executable has no predict entry point");
  if (!opt.weights.empty()) m.load_weights(opt.weights);
  if (opt.fusion_tolerance > 0) m.verify_fusion(opt.fusion_tolerance);
  const int64_t batch = m.batch();
  const auto ins = m.entry_inputs("predict");
  const auto outs = m.entry_outputs("predict");
  if (ins.empty()) throw Error(opt.model + ": predict takes no inputs, so there are no rows to run");

  auto input_files = resolve(opt.inputs, ins, m, opt.model, "input");
  auto output_files = resolve(opt.outputs, outs, m, opt.model, "output");

  // Read and check every input: the same row count, rows of the right size.
  std::vector<HostTensor> data;
  int64_t rows = -1;
  std::string rows_from;
  for (const auto& in : ins) {
    auto f = input_files.find(in.name);
    if (f == input_files.end())
      throw Error(opt.model + ": predict needs input '" + in.name + "' " + in.type_str() + "; give it with --input " +
                  in.name + "=FILE");
    if (in.dims.empty() || in.dims[0] != batch)
      throw Error(opt.model + ": input '" + in.name + "' " + in.type_str() +
                  " does not lead with the batch dimension, so it cannot be fed row by row");
    HostTensor t = read_npy(f->second);
    if (t.type.dims.empty())
      throw Error(f->second + ": holds a single value; input '" + in.name + "' takes rows of " +
                  std::to_string(in.numel / batch) + " values");
    int64_t per_row = in.numel / batch;
    if (row_size(t.type.dims) != per_row)
      throw Error(f->second + ": an array of shape " + dims_str(t.type.dims) + ", rows of shape " +
                  dims_str({t.type.dims.begin() + 1, t.type.dims.end()}) + " (" + std::to_string(row_size(t.type.dims)) +
                  " values), but input '" + in.name + "' " + in.type_str() + " takes rows of " +
                  std::to_string(per_row) + " values");
    if (rows >= 0 && t.type.dims[0] != rows)
      throw Error(f->second + ": " + std::to_string(t.type.dims[0]) + " rows, but " + rows_from + " has " +
                  std::to_string(rows));
    rows = t.type.dims[0];
    rows_from = f->second;
    data.push_back(convert(t, to_dtype(in.dtype), f->second, in.name));
  }

  std::vector<const dlrt::TensorInfo*> wanted;
  std::vector<HostTensor> results;
  for (const auto& [name, file] : output_files) {
    const dlrt::TensorInfo* info = find_info(outs, name);
    if (info->dims.empty() || info->dims[0] != batch)
      throw Error(opt.model + ": output '" + name + "' " + info->type_str() +
                  " does not lead with the batch dimension, so it has no rows to write");
    std::vector<int64_t> dims = info->dims;
    dims[0] = rows;
    wanted.push_back(info);
    results.emplace_back(TensorType{to_dtype(info->dtype), dims});
  }

  // One bound batch at a time; the last one is padded with zeros.
  std::vector<std::vector<uint8_t>> in_buf(ins.size()), out_buf(wanted.size());
  std::vector<dlrt_input> feeds(ins.size());
  std::vector<dlrt_output> fetches(wanted.size());
  for (size_t k = 0; k < ins.size(); ++k) {
    in_buf[k].resize(static_cast<size_t>(ins[k].numel) * dlrt_dtype_size(ins[k].dtype));
    feeds[k] = {ins[k].name.c_str(), ins[k].dtype, in_buf[k].data(), ins[k].numel};
  }
  for (size_t k = 0; k < wanted.size(); ++k) {
    out_buf[k].resize(static_cast<size_t>(wanted[k]->numel) * dlrt_dtype_size(wanted[k]->dtype));
    fetches[k] = {wanted[k]->name.c_str(), wanted[k]->dtype, out_buf[k].data(), wanted[k]->numel};
  }
  int64_t batches = 0;
  for (int64_t start = 0; start < rows; start += batch, ++batches) {
    int64_t count = std::min(batch, rows - start);
    for (size_t k = 0; k < ins.size(); ++k) {
      size_t row_bytes = in_buf[k].size() / static_cast<size_t>(batch);
      std::fill(in_buf[k].begin(), in_buf[k].end(), 0);
      std::memcpy(in_buf[k].data(), data[k].bytes.data() + static_cast<size_t>(start) * row_bytes,
                  static_cast<size_t>(count) * row_bytes);
    }
    m.run("predict", feeds, fetches);
    for (size_t k = 0; k < wanted.size(); ++k) {
      size_t row_bytes = out_buf[k].size() / static_cast<size_t>(batch);
      std::memcpy(results[k].bytes.data() + static_cast<size_t>(start) * row_bytes, out_buf[k].data(),
                  static_cast<size_t>(count) * row_bytes);
    }
  }

  if (opt.fusion_tolerance > 0) std::fprintf(stderr, "%s\n", m.fusion_report().c_str());
  size_t k = 0;
  for (const auto& [name, file] : output_files) {
    write_npy(file, results[k]);
    std::printf("%s: %s %s (%lld rows, %lld batches of %lld)\n", file.c_str(), name.c_str(),
                results[k].type.str().c_str(), static_cast<long long>(rows), static_cast<long long>(batches),
                static_cast<long long>(batch));
    ++k;
  }
  return 0;
}

}  // namespace dlc
