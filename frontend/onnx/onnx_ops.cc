// One converter per supported ONNX op type (opsets 13 to 20): each maps a
// node onto graph IR ops through the GraphBuilder, or folds it when its
// inputs are known at import (the shape chains exporters write around
// Reshape: Shape, Gather, Unsqueeze, Concat, Slice, Cast).
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "frontend/onnx/onnx_context.h"
#include "ir/error.h"
#include "ir/size_limits.h"

namespace dlc::onnx_import {
namespace {

/// Input `i` of `n`; a missing one is an error (protobuf would abort).
const std::string& in(const onnx::NodeProto& n, int i) {
  if (i >= n.input_size()) throw Error("input " + std::to_string(i) + " is missing");
  return n.input(i);
}
bool has_in(const onnx::NodeProto& n, int i) { return n.input_size() > i && !n.input(i).empty(); }

/// Emits `op` on the node's graph inputs and names its output after the node's first output.
void emit(Importer& im, const onnx::NodeProto& n, const std::string& op, std::vector<std::string> inputs,
          const Attrs& attrs = {}) {
  std::string out = im.builder().op(op, inputs, attrs, n.output(0));
  im.set_value(n.output(0), out);
}

void unary(Importer& im, const onnx::NodeProto& n, const std::string& op, const Attrs& attrs = {}) {
  emit(im, n, op, {im.value(in(n, 0))}, attrs);
}

int64_t rank_of(Importer& im, const std::string& onnx_name) {
  return im.folded(onnx_name) ? static_cast<int64_t>(im.known(onnx_name).dims.size())
                                                            : im.type(onnx_name).rank();
}

// --- element-wise ------------------------------------------------------------

/// Add/Sub/Mul/Div: folded when both sides are known numbers, else a graph op.
void binary(Importer& im, const onnx::NodeProto& n, const std::string& op) {
  const std::string &a = in(n, 0), &b = in(n, 1);
  if (im.folded(a) && im.folded(b)) {
    const Known &x = im.known(a), &y = im.known(b);
    if (x.has_batch() || y.has_batch())
      throw Error(im.where(n) + ": arithmetic on the symbolic batch size is not folded");
    bool x_big = x.numel() >= y.numel();
    const Known& big = x_big ? x : y;
    if (y.numel() != 1 && x.numel() != 1 && x.numel() != y.numel())
      throw Error(im.where(n) + ": cannot fold constants of " + std::to_string(x.numel()) + " and " +
                  std::to_string(y.numel()) + " elements");
    Known r = big;
    for (int64_t i = 0; i < r.numel(); ++i) {
      double u = x.values[x.numel() == 1 ? 0 : i], v = y.values[y.numel() == 1 ? 0 : i];
      double w = op == "add" ? u + v : op == "sub" ? u - v : op == "mul" ? u * v : u / v;
      if (is_integer(r.dtype) && op == "div") w = std::trunc(w);
      r.values[i] = w;
    }
    im.set_known(n.output(0), r);
    return;
  }
  emit(im, n, op, {im.value(a), im.value(b)});
}

void convert_add(Importer& im, const onnx::NodeProto& n) { binary(im, n, "add"); }
void convert_sub(Importer& im, const onnx::NodeProto& n) { binary(im, n, "sub"); }
void convert_mul(Importer& im, const onnx::NodeProto& n) { binary(im, n, "mul"); }
void convert_div(Importer& im, const onnx::NodeProto& n) { binary(im, n, "div"); }
void convert_relu(Importer& im, const onnx::NodeProto& n) { unary(im, n, "relu"); }
void convert_sigmoid(Importer& im, const onnx::NodeProto& n) { unary(im, n, "sigmoid"); }
void convert_tanh(Importer& im, const onnx::NodeProto& n) { unary(im, n, "tanh"); }
void convert_leaky_relu(Importer& im, const onnx::NodeProto& n) {
  unary(im, n, "leaky_relu", {{"alpha", attr_f(node_float(n, "alpha", 0.01))}});
}
void convert_elu(Importer& im, const onnx::NodeProto& n) { unary(im, n, "elu", {{"alpha", attr_f(node_float(n, "alpha", 1.0))}}); }
void convert_gelu(Importer& im, const onnx::NodeProto& n) {
  if (node_string(n, "approximate", "none") != "tanh")
    throw Error(im.where(n) + ": Gelu with approximate='none' (the erf form) is not supported; dlc's gelu is the "
                "tanh form: export nn.GELU(approximate='tanh')");
  unary(im, n, "gelu");
}
void convert_softmax(Importer& im, const onnx::NodeProto& n) {
  unary(im, n, "softmax", {{"axis", attr_i(node_int(n, "axis", -1))}});
}
void convert_log_softmax(Importer& im, const onnx::NodeProto& n) {
  unary(im, n, "log_softmax", {{"axis", attr_i(node_int(n, "axis", -1))}});
}

void convert_identity(Importer& im, const onnx::NodeProto& n) {
  if (im.folded(in(n, 0))) im.set_known(n.output(0), im.known(in(n, 0)));
  else im.set_value(n.output(0), im.value(in(n, 0)));
}

void convert_dropout(Importer& im, const onnx::NodeProto& n) {
  double rate = 0.5;
  if (has_in(n, 1)) {
    if (!im.is_known(in(n, 1))) throw Error(im.where(n) + ": the dropout ratio must be a constant");
    rate = im.known(in(n, 1)).values.at(0);
  }
  if (n.output_size() > 1 && !n.output(1).empty())
    throw Error(im.where(n) + ": the dropout mask output is not supported");
  if (rate == 0) return convert_identity(im, n);
  unary(im, n, "dropout", {{"rate", attr_f(rate)}});
}

// --- matrix products -------------------------------------------------------------

void convert_matmul(Importer& im, const onnx::NodeProto& n) { emit(im, n, "matmul", {im.value(in(n, 0)), im.value(in(n, 1))}); }

/// alpha * op(A) op(B) + beta * C.
void convert_gemm(Importer& im, const onnx::NodeProto& n) {
  GraphBuilder& b = im.builder();
  DType dt = im.type(in(n, 0)).dtype;
  double alpha = node_float(n, "alpha", 1), beta = node_float(n, "beta", 1);
  Attrs t{{"transpose_a", attr_b(node_int(n, "transA", 0) != 0)}, {"transpose_b", attr_b(node_int(n, "transB", 0) != 0)}};
  bool last = !has_in(n, 2) && alpha == 1;
  std::string y = b.op("matmul", {im.value(in(n, 0)), im.value(in(n, 1))}, t, last ? n.output(0) : "");
  if (alpha != 1) y = b.op("mul", {y, b.scalar(alpha, dt)}, {}, has_in(n, 2) ? "" : n.output(0));
  if (has_in(n, 2)) {
    std::string c = im.value(in(n, 2));
    if (beta != 1) c = b.mul(c, b.scalar(beta, dt));
    y = b.op("add", {y, c}, {}, n.output(0));
  }
  im.set_value(n.output(0), y);
}

// --- convolution and pooling -----------------------------------------------------

/// The [h, w] of a 2-D window attribute; ONNX pads are [top, left, bottom,
/// right] and must be symmetric.
std::vector<int64_t> window_pads(Importer& im, const onnx::NodeProto& n) {
  std::string auto_pad = node_string(n, "auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "")
    throw Error(im.where(n) + ": auto_pad " + auto_pad + " is not supported (export explicit pads)");
  std::vector<int64_t> p = node_ints(n, "pads");
  if (p.empty()) return {0, 0};
  if (p.size() != 4) throw Error(im.where(n) + ": only 2-D windows are supported (pads of 4 values)");
  if (p[0] != p[2] || p[1] != p[3])
    throw Error(im.where(n) + ": asymmetric pads [" + std::to_string(p[0]) + "," + std::to_string(p[1]) + "," +
                std::to_string(p[2]) + "," + std::to_string(p[3]) + "] are not supported");
  return {p[0], p[1]};
}

std::vector<int64_t> pair_attr(Importer& im, const onnx::NodeProto& n, const std::string& name, int64_t fallback) {
  std::vector<int64_t> v = node_ints(n, name);
  if (v.empty()) return {fallback, fallback};
  if (v.size() != 2) throw Error(im.where(n) + ": only 2-D windows are supported (" + name + " of 2 values)");
  return v;
}

void convert_conv(Importer& im, const onnx::NodeProto& n) {
  if (node_int(n, "group", 1) != 1) throw Error(im.where(n) + ": grouped convolution (group > 1) is not supported");
  if (rank_of(im, in(n, 0)) != 4) throw Error(im.where(n) + ": only 2-D convolution (NCHW input) is supported");
  std::vector<std::string> inputs{im.value(in(n, 0)), im.value(in(n, 1))};
  if (has_in(n, 2)) inputs.push_back(im.value(in(n, 2)));
  emit(im, n, "conv2d", inputs,
       {{"strides", attr_ints(pair_attr(im, n, "strides", 1))},
        {"pads", attr_ints(window_pads(im, n))},
        {"dilations", attr_ints(pair_attr(im, n, "dilations", 1))}});
}

void pool(Importer& im, const onnx::NodeProto& n, const std::string& op) {
  if (node_int(n, "ceil_mode", 0) != 0) throw Error(im.where(n) + ": ceil_mode=1 is not supported");
  if (n.output_size() > 1 && !n.output(1).empty()) throw Error(im.where(n) + ": the Indices output is not supported");
  std::vector<int64_t> pads = window_pads(im, n);
  if (op == "avg_pool2d" && node_int(n, "count_include_pad", 0) == 0 && (pads[0] || pads[1]))
    throw Error(im.where(n) + ": padded AveragePool without count_include_pad is not supported (dlc counts the "
                "padding, as PyTorch's default does)");
  Attrs attrs{{"kernel", attr_ints(pair_attr(im, n, "kernel_shape", 0))},
              {"strides", attr_ints(pair_attr(im, n, "strides", 1))},
              {"pads", attr_ints(pads)}};
  if (op == "max_pool2d") attrs["dilations"] = attr_ints(pair_attr(im, n, "dilations", 1));
  unary(im, n, op, attrs);
}
void convert_max_pool(Importer& im, const onnx::NodeProto& n) { pool(im, n, "max_pool2d"); }
void convert_average_pool(Importer& im, const onnx::NodeProto& n) { pool(im, n, "avg_pool2d"); }
void convert_global_average_pool(Importer& im, const onnx::NodeProto& n) {
  unary(im, n, "reduce_mean", {{"axes", attr_ints({2, 3})}, {"keepdims", attr_b(true)}});
}

void convert_batch_norm(Importer& im, const onnx::NodeProto& n) {
  for (int i = 1; i < n.output_size(); ++i)
    if (!n.output(i).empty())
      throw Error(im.where(n) + ": the running-statistics outputs (training_mode=1) are not supported; export "
                  "the model in eval mode");
  std::vector<std::string> inputs;
  for (int i = 0; i < 5; ++i) inputs.push_back(im.value(in(n, i)));
  // ONNX: running = momentum * running + (1 - momentum) * batch; dlc and
  // PyTorch weigh the batch statistic by momentum.
  emit(im, n, "batch_norm", inputs,
       {{"epsilon", attr_f(node_float(n, "epsilon", 1e-5))}, {"momentum", attr_f(1 - node_float(n, "momentum", 0.9))}});
}

// --- shapes ------------------------------------------------------------------------

void convert_flatten(Importer& im, const onnx::NodeProto& n) {
  int64_t axis = node_int(n, "axis", 1);
  if (axis < 0) axis += rank_of(im, in(n, 0));
  unary(im, n, "flatten", {{"axis", attr_i(axis)}});
}

void convert_transpose(Importer& im, const onnx::NodeProto& n) {
  std::vector<int64_t> perm = node_ints(n, "perm");
  Attrs attrs;
  if (!perm.empty()) attrs["perm"] = attr_ints(perm);
  unary(im, n, "transpose", attrs);
}

/// The new dims of Reshape: 0 copies the input's dim (allowzero=0), -1 is
/// inferred, the symbolic batch stays symbolic, and a batch size baked into
/// the shape by a static export is recognized where the input is batched.
std::vector<int64_t> reshape_dims(Importer& im, const onnx::NodeProto& n, const TensorType& x, const Known& shape) {
  std::vector<int64_t> target = shape.ints(im.where(n) + ": shape");
  const bool batched = x.has_batch();
  int64_t per_sample = 1;  // the input's elements besides the batch
  for (int64_t d : x.dims)
    if (d != kBatch) per_sample *= d;
  int infer = -1, batch_at = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (shape.batch[i]) {
      batch_at = static_cast<int>(i);
    } else if (target[i] == 0) {  // copies the input's dim
      if (i >= x.dims.size()) throw Error(im.where(n) + ": a 0 in the shape past the input's rank");
      if (x.dims[i] == kBatch) batch_at = static_cast<int>(i);
      else target[i] = x.dims[i];
    } else if (target[i] == -1) {
      infer = static_cast<int>(i);
    }
  }
  auto known_product = [&] {
    int64_t p = 1;
    for (size_t i = 0; i < target.size(); ++i)
      if (static_cast<int>(i) != infer && static_cast<int>(i) != batch_at) p *= target[i];
    return p;
  };
  std::string shapes = x.str() + " to the shape of " + in(n, 1);
  if (batched && batch_at < 0) {
    if (infer == 0 && known_product() == per_sample) {
      batch_at = 0;  // [-1, features...]: the -1 is the batch
      infer = -1;
    } else if (im.export_batch > 0 && !target.empty() && target[0] == im.export_batch) {
      batch_at = 0;  // [128, ...] baked in by a static export
    } else {
      throw Error(im.where(n) + " fixes the batch size: it reshapes " + shapes + " without the batch dimension. "
                  "Re-export with a dynamic batch: torch.onnx.export(..., dynamic_axes={'x': {0: 'batch'}}) or, "
                  "with dynamo=True, dynamic_shapes");
    }
  }
  if (!batched && batch_at >= 0) throw Error(im.where(n) + ": reshapes an unbatched value to a batched shape");
  if (infer >= 0) {
    int64_t p = known_product();
    if (p == 0 || per_sample % p != 0)
      throw Error(im.where(n) + ": cannot infer the -1 of the shape reshaping " + x.str());
    target[infer] = per_sample / p;
  }
  if (batch_at >= 0) target[batch_at] = kBatch;
  return target;
}

void convert_reshape(Importer& im, const onnx::NodeProto& n) {
  if (!im.is_known(in(n, 1))) throw Error(im.where(n) + ": the shape must be known at import (a constant or a shape chain)");
  const Known& shape = im.known(in(n, 1));
  // allowzero=1 makes a 0 a real zero-sized dim rather than a copy; without
  // zeros in the shape (the dynamo exporter's flatten) it changes nothing.
  if (node_int(n, "allowzero", 0) != 0 &&
      std::any_of(shape.values.begin(), shape.values.end(), [](double v) { return v == 0; }))
    throw Error(im.where(n) + ": allowzero=1 with a 0 in the shape (a zero-sized dim) is not supported");
  if (im.folded(in(n, 0))) {  // folding a constant's reshape
    Known k = im.known(in(n, 0));
    k.dims = shape.ints(im.where(n));
    int64_t p = 1, infer = -1;
    for (size_t i = 0; i < k.dims.size(); ++i) {
      if (k.dims[i] == -1) infer = static_cast<int64_t>(i);
      else p *= k.dims[i];
    }
    if (infer >= 0) k.dims[static_cast<size_t>(infer)] = p ? k.numel() / p : 0;
    im.set_known(n.output(0), k);
    return;
  }
  TensorType x = im.type(in(n, 0));
  unary(im, n, "reshape", {{"dims", attr_ints(reshape_dims(im, n, x, shape))}});
}

void convert_shape(Importer& im, const onnx::NodeProto& n) {
  std::vector<int64_t> dims = im.folded(in(n, 0)) ? im.known(in(n, 0)).dims
                                                                                : im.type(in(n, 0)).dims;
  int64_t rank = static_cast<int64_t>(dims.size());
  int64_t start = node_int(n, "start", 0), end = node_int(n, "end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  Known k;
  k.dtype = DType::i64;
  k.dims = {end - start};
  for (int64_t i = start; i < end; ++i) {
    k.values.push_back(static_cast<double>(dims[i] == kBatch ? -1 : dims[i]));
    k.batch.push_back(dims[i] == kBatch);
  }
  im.set_known(n.output(0), k);
}

const Known& known_input(Importer& im, const onnx::NodeProto& n, int i) {
  if (!im.folded(in(n, i)))
    throw Error(im.where(n) + " on a computed tensor is not supported (only on shapes and constants, folded at import)");
  return im.known(in(n, i));
}

void convert_gather(Importer& im, const onnx::NodeProto& n) {
  const Known& data = known_input(im, n, 0);
  const Known& idx = known_input(im, n, 1);
  if (data.dims.size() != 1 || node_int(n, "axis", 0) != 0)
    throw Error(im.where(n) + ": only gathering from a 1-D shape is folded");
  Known k;
  k.dtype = data.dtype;
  k.dims = idx.dims;
  for (int64_t i : idx.ints(im.where(n))) {
    if (i < 0) i += data.numel();
    if (i < 0 || i >= data.numel()) throw Error(im.where(n) + ": index out of range");
    k.values.push_back(data.values[i]);
    k.batch.push_back(data.batch[i]);
  }
  im.set_known(n.output(0), k);
}

std::vector<int64_t> axes_of(Importer& im, const onnx::NodeProto& n) {
  if (has_in(n, 1)) return known_input(im, n, 1).ints(im.where(n));
  return node_ints(n, "axes");
}

void convert_unsqueeze(Importer& im, const onnx::NodeProto& n) {
  std::vector<int64_t> axes = axes_of(im, n);
  bool folded = im.folded(in(n, 0));
  std::vector<int64_t> dims = folded ? im.known(in(n, 0)).dims : im.type(in(n, 0)).dims;
  int64_t rank = static_cast<int64_t>(dims.size() + axes.size());
  for (int64_t& a : axes) a = a < 0 ? a + rank : a;
  std::sort(axes.begin(), axes.end());
  for (int64_t a : axes) {
    if (a < 0 || a > static_cast<int64_t>(dims.size())) throw Error(im.where(n) + ": axis out of range");
    dims.insert(dims.begin() + a, 1);
  }
  if (folded) {
    Known k = im.known(in(n, 0));
    k.dims = dims;
    im.set_known(n.output(0), k);
  } else {
    unary(im, n, "reshape", {{"dims", attr_ints(dims)}});
  }
}

void convert_squeeze(Importer& im, const onnx::NodeProto& n) {
  std::vector<int64_t> axes = axes_of(im, n);
  bool folded = im.folded(in(n, 0));
  std::vector<int64_t> dims = folded ? im.known(in(n, 0)).dims : im.type(in(n, 0)).dims;
  int64_t rank = static_cast<int64_t>(dims.size());
  std::vector<int64_t> out;
  for (int64_t i = 0; i < rank; ++i) {
    bool drop = axes.empty() ? dims[i] == 1
                             : std::any_of(axes.begin(), axes.end(), [&](int64_t a) { return (a < 0 ? a + rank : a) == i; });
    if (drop && dims[i] != 1) throw Error(im.where(n) + ": squeezes an axis that is not 1");
    if (!drop) out.push_back(dims[i]);
  }
  if (folded) {
    Known k = im.known(in(n, 0));
    k.dims = out;
    im.set_known(n.output(0), k);
  } else {
    unary(im, n, "reshape", {{"dims", attr_ints(out)}});
  }
}

void convert_concat(Importer& im, const onnx::NodeProto& n) {
  Known k;
  for (int i = 0; i < n.input_size(); ++i) {
    const Known& part = known_input(im, n, i);
    if (part.dims.size() != 1) throw Error(im.where(n) + ": only concatenating 1-D shapes is folded");
    k.dtype = part.dtype;
    k.values.insert(k.values.end(), part.values.begin(), part.values.end());
    k.batch.insert(k.batch.end(), part.batch.begin(), part.batch.end());
  }
  k.dims = {k.numel()};
  im.set_known(n.output(0), k);
}

void convert_slice(Importer& im, const onnx::NodeProto& n) {
  const Known& data = known_input(im, n, 0);
  if (data.dims.size() != 1) throw Error(im.where(n) + ": only slicing a 1-D shape is folded");
  int64_t size = data.numel();
  int64_t start = known_input(im, n, 1).ints(im.where(n)).at(0), end = known_input(im, n, 2).ints(im.where(n)).at(0);
  if (has_in(n, 3) && known_input(im, n, 3).ints(im.where(n)).at(0) != 0)
    throw Error(im.where(n) + ": slicing a 1-D shape on an axis other than 0");
  int64_t step = has_in(n, 4) ? known_input(im, n, 4).ints(im.where(n)).at(0) : 1;
  if (step != 1) throw Error(im.where(n) + ": only step 1 is folded");
  if (start < 0) start += size;
  if (end < 0) end += size;
  start = std::clamp<int64_t>(start, 0, size);
  end = std::clamp<int64_t>(end, start, size);
  Known k;
  k.dtype = data.dtype;
  k.dims = {end - start};
  k.values.assign(data.values.begin() + start, data.values.begin() + end);
  k.batch.assign(data.batch.begin() + start, data.batch.begin() + end);
  im.set_known(n.output(0), k);
}

DType onnx_dtype(Importer& im, const onnx::NodeProto& n, int64_t t) {
  switch (t) {
    case onnx::TensorProto::FLOAT: return DType::f32;
    case onnx::TensorProto::DOUBLE: return DType::f64;
    case onnx::TensorProto::INT32: return DType::i32;
    case onnx::TensorProto::INT64: return DType::i64;
    case onnx::TensorProto::BOOL: return DType::boolean;
    default: throw Error(im.where(n) + ": cast to ONNX type " + std::to_string(t) + " is not supported");
  }
}

/// Input 0 converted to `to`: folded when known, else a cast op.
void cast_to(Importer& im, const onnx::NodeProto& n, DType to) {
  if (im.folded(in(n, 0))) {
    Known k = im.known(in(n, 0));
    k.dtype = to;
    if (is_integer(to))
      for (double& v : k.values) v = std::trunc(v);
    im.set_known(n.output(0), k);
    return;
  }
  unary(im, n, "cast", {{"dtype", attr_dtype(to)}});
}

void convert_cast(Importer& im, const onnx::NodeProto& n) {
  cast_to(im, n, onnx_dtype(im, n, node_int(n, "to", onnx::TensorProto::FLOAT)));
}

/// Expand of a known value to a known shape (the dynamo exporter builds
/// zero biases that way): folded; on a computed tensor, not supported.
void convert_expand(Importer& im, const onnx::NodeProto& n) {
  const Known& data = known_input(im, n, 0);
  std::vector<int64_t> shape = known_input(im, n, 1).ints(im.where(n) + ": shape");
  if (data.numel() != 1 || data.has_batch())
    throw Error(im.where(n) + ": only expanding a single known value is folded");
  Known k;
  k.dtype = data.dtype;
  k.dims = shape;
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && count > max_memory_bytes() / 8 / d))
      throw Error(im.where(n) + ": expands to more elements than the memory limit allows");
    count *= d;
  }
  k.values.assign(static_cast<size_t>(count), data.values[0]);
  k.batch.assign(k.values.size(), false);
  im.set_known(n.output(0), k);
}

/// CastLike: Cast to the dtype of the second input.
void convert_cast_like(Importer& im, const onnx::NodeProto& n) {
  cast_to(im, n, im.folded(in(n, 1)) ? im.known(in(n, 1)).dtype : im.type(in(n, 1)).dtype);
}

void convert_constant(Importer& im, const onnx::NodeProto& n) {
  Known k;
  if (const auto* a = attribute(n, "value")) k = decode_tensor(a->t(), "", im.where(n));
  else if (const auto* f = attribute(n, "value_float")) k = Known{DType::f32, {}, {f->f()}, {false}};
  else if (const auto* i = attribute(n, "value_int")) k = Known{DType::i64, {}, {static_cast<double>(i->i())}, {false}};
  else if (const auto* is = attribute(n, "value_ints")) {
    k.dtype = DType::i64;
    for (int64_t v : is->ints()) k.values.push_back(static_cast<double>(v));
    k.dims = {k.numel()};
    k.batch.assign(k.values.size(), false);
  } else if (const auto* fs = attribute(n, "value_floats")) {
    k.values.assign(fs->floats().begin(), fs->floats().end());
    k.dims = {k.numel()};
    k.batch.assign(k.values.size(), false);
  } else {
    throw Error(im.where(n) + ": a Constant without value, value_float(s) or value_int(s) is not supported");
  }
  im.set_known(n.output(0), k);
}

const std::map<std::string, OpConverter>& converters() {
  static const std::map<std::string, OpConverter> table = {
      {"Add", convert_add},
      {"AveragePool", convert_average_pool},
      {"BatchNormalization", convert_batch_norm},
      {"Cast", convert_cast},
      {"CastLike", convert_cast_like},
      {"Concat", convert_concat},
      {"Constant", convert_constant},
      {"Conv", convert_conv},
      {"Div", convert_div},
      {"Dropout", convert_dropout},
      {"Elu", convert_elu},
      {"Expand", convert_expand},
      {"Flatten", convert_flatten},
      {"Gather", convert_gather},
      {"Gelu", convert_gelu},
      {"Gemm", convert_gemm},
      {"GlobalAveragePool", convert_global_average_pool},
      {"Identity", convert_identity},
      {"LeakyRelu", convert_leaky_relu},
      {"LogSoftmax", convert_log_softmax},
      {"MatMul", convert_matmul},
      {"MaxPool", convert_max_pool},
      {"Mul", convert_mul},
      {"Relu", convert_relu},
      {"Reshape", convert_reshape},
      {"Shape", convert_shape},
      {"Sigmoid", convert_sigmoid},
      {"Slice", convert_slice},
      {"Softmax", convert_softmax},
      {"Squeeze", convert_squeeze},
      {"Sub", convert_sub},
      {"Tanh", convert_tanh},
      {"Transpose", convert_transpose},
      {"Unsqueeze", convert_unsqueeze},
  };
  return table;
}

}  // namespace

OpConverter find_converter(const std::string& op_type) {
  auto it = converters().find(op_type);
  return it == converters().end() ? nullptr : it->second;
}

}  // namespace dlc::onnx_import
