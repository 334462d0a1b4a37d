// Shape ops: constants and the ops that only remap indices (reshape,
// transpose, broadcast_to).
//
// A -1 in a `dims` attribute is the symbolic batch dimension; the pass that
// binds `--batch N` replaces it with N in these attributes as in types.
#include <algorithm>

#include "ir/builder.h"
#include "ir/grad_util.h"
#include "ir/op_registry.h"

namespace dlc {
namespace {

/// "" when every entry of `dims` is positive or the batch dimension.
std::string check_dims(const std::vector<int64_t>& dims) {
  for (int64_t d : dims)
    if (d <= 0 && d != kBatch)
      return "dims " + dims_str(dims) + " has " + std::to_string(d) + "; dims must be positive or -1 (batch)";
  return "";
}

/// Product of the static dims (the batch dimension counts as 1), or -1 when
/// it does not fit int64: dims come from model files (found by fuzz_model_binary).
int64_t static_numel(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    if (__builtin_mul_overflow(n, d == kBatch ? 1 : d, &n)) return -1;
  return n;
}

int64_t batch_count(const std::vector<int64_t>& dims) {
  return static_cast<int64_t>(std::count(dims.begin(), dims.end(), kBatch));
}

// --- constant -----------------------------------------------------------------

std::string infer_constant(const Node& n, const std::vector<TensorType>&, std::vector<TensorType>* out) {
  std::vector<int64_t> dims = n.attr_ints("dims");
  if (std::string e = check_dims(dims); !e.empty()) return e;
  bool has_value = n.has_attr("value"), has_values = n.has_attr("values");
  if (has_value == has_values) return "needs exactly one of 'value' (float) and 'values' (float list)";
  if (has_values) {
    int64_t count = n.attrs.at("values").floats().values_size();
    if (batch_count(dims) > 0) return "a 'values' constant cannot have the batch dimension: dims " + dims_str(dims);
    if (static_numel(dims) < 0) return "dims " + dims_str(dims) + " hold more elements than int64 counts";
    if (count != static_numel(dims))
      return "'values' has " + std::to_string(count) + " value(s), but dims " + dims_str(dims) + " need " +
             std::to_string(static_numel(dims));
  }
  out->push_back({n.attr_dtype("dtype"), dims});
  return "";
}

void eval_constant(const Node& n, const std::vector<const Tensor*>&, std::vector<Tensor>& out,
                   const EvalContext&) {
  Tensor& y = out[0];
  if (n.has_attr("values")) {
    const auto& v = n.attrs.at("values").floats().values();
    for (int64_t i = 0; i < y.numel(); ++i) y[i] = v[static_cast<int>(i)];
  } else {
    double v = n.attr_float("value");
    for (double& e : y.data) e = v;
  }
  round_to_dtype(y);
}

OpDef constant_op() {
  OpDef d;
  d.name = "constant";
  d.min_inputs = d.max_inputs = 0;
  d.attrs = {{"value", AttrKind::f}, {"values", AttrKind::floats}, {"dims", AttrKind::ints},
             {"dtype", AttrKind::dtype}};
  d.infer = infer_constant;
  d.eval = eval_constant;
  // A `value` constant is a uniform fill, which element-wise kernels may
  // inline through `expr`; a `values` constant is data and stays a buffer.
  d.expr = [](Args, const Node& n) { return SExpr(n.attr_float("value")); };
  d.lowering = Lowering::constant;
  d.doc = "a tensor of dims (default scalar) and dtype (default f32), filled with value or given values (row-major)";
  return d;
}

// --- reshape ------------------------------------------------------------------

std::string infer_reshape(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  std::vector<int64_t> dims = n.attr_ints("dims");
  if (std::string e = check_dims(dims); !e.empty()) return e;
  const TensorType& x = in[0];
  std::string shapes = x.str() + " -> " + dims_str(dims);
  if (batch_count(dims) > 1) return "reshape to more than one batch dimension: " + shapes;
  if (batch_count(x.dims) != batch_count(dims))
    return "the batch dimension (-1) must appear in both input and dims, or in neither: " + shapes;
  if (static_numel(x.dims) < 0 || static_numel(dims) < 0) return "more elements than int64 counts: " + shapes;
  if (static_numel(x.dims) != static_numel(dims)) return "element counts differ: " + shapes;
  out->push_back({x.dtype, dims});
  return "";
}

/// Index-remapping ops that keep row-major element order copy straight through.
void eval_copy(const Node&, const std::vector<const Tensor*>& in, std::vector<Tensor>& out, const EvalContext&) {
  out[0].data = in[0]->data;
}

std::vector<std::string> grad_reshape(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  return {b.reshape(dy[0], b.type(n.inputs[0]).dims)};
}

OpDef reshape_op() {
  OpDef d;
  d.name = "reshape";
  d.attrs = {{"dims", AttrKind::ints, true}};
  d.infer = infer_reshape;
  d.eval = eval_copy;
  d.grad = grad_reshape;
  d.lowering = Lowering::reshape;
  d.doc = "same elements in row-major order, new dims; a -1 (batch) in dims stands for the input's batch dim";
  return d;
}

// --- transpose ----------------------------------------------------------------

/// The permutation of a transpose node over `rank` axes; reversed by default.
std::vector<int64_t> perm_of(const Node& n, int64_t rank) {
  std::vector<int64_t> perm = n.attr_ints("perm");
  if (!n.has_attr("perm"))
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  return perm;
}

std::string infer_transpose(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  const TensorType& x = in[0];
  std::vector<int64_t> perm = perm_of(n, x.rank());
  std::string bad = "perm " + dims_str(perm) + " is not a permutation of the axes of " + x.str();
  if (static_cast<int64_t>(perm.size()) != x.rank()) return bad;
  std::vector<bool> seen(perm.size(), false);
  TensorType r{x.dtype, {}};
  for (int64_t p : perm) {
    if (p < 0 || p >= x.rank() || seen[p]) return bad;
    seen[p] = true;
    r.dims.push_back(x.dims[p]);
  }
  out->push_back(r);
  return "";
}

void eval_transpose(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                    const EvalContext&) {
  const Tensor& x = *in[0];
  Tensor& y = out[0];
  std::vector<int64_t> perm = perm_of(n, x.type.rank());
  std::vector<int64_t> xs = strides_of(x.type.dims);
  const std::vector<int64_t>& ydims = y.type.dims;
  for (int64_t e = 0; e < y.numel(); ++e) {
    int64_t rest = e, offset = 0;
    for (int64_t i = static_cast<int64_t>(ydims.size()) - 1; i >= 0; --i) {
      offset += (rest % ydims[i]) * xs[perm[i]];
      rest /= ydims[i];
    }
    y[e] = x[offset];
  }
}

std::vector<std::string> grad_transpose(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  std::vector<int64_t> perm = perm_of(n, b.type(n.inputs[0]).rank());
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
  return {b.op("transpose", {dy[0]}, {{"perm", attr_ints(inverse)}})};
}

OpDef transpose_op() {
  OpDef d;
  d.name = "transpose";
  d.attrs = {{"perm", AttrKind::ints}};
  d.infer = infer_transpose;
  d.eval = eval_transpose;
  d.grad = grad_transpose;
  d.lowering = Lowering::index_map;
  d.index_map = [](const Node& n, const std::vector<int64_t>& in, const std::vector<int64_t>&,
                   const std::vector<int>& m) {  // output dim i is input dim perm[i]
    std::vector<int64_t> perm = perm_of(n, static_cast<int64_t>(in.size()));
    std::vector<int> r(in.size(), -1);
    for (size_t i = 0; i < perm.size(); ++i) r[perm[i]] = m[i];
    return r;
  };
  d.doc = "output axis i is input axis perm[i]; perm defaults to reversing the axes";
  return d;
}

// --- broadcast_to ---------------------------------------------------------------

std::string infer_broadcast_to(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  std::vector<int64_t> dims = n.attr_ints("dims");
  if (std::string e = check_dims(dims); !e.empty()) return e;
  const TensorType& x = in[0];
  std::string bad = "cannot broadcast " + x.str() + " to " + dims_str(dims);
  if (x.rank() > static_cast<int64_t>(dims.size())) return bad;
  int64_t lead = static_cast<int64_t>(dims.size()) - x.rank();
  for (int64_t i = 0; i < x.rank(); ++i)
    if (x.dims[i] != 1 && x.dims[i] != dims[i + lead]) return bad;
  out->push_back({x.dtype, dims});
  return "";
}

void eval_broadcast_to(const Node&, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                       const EvalContext&) {
  const Tensor& x = *in[0];
  Tensor& y = out[0];
  for (int64_t e = 0; e < y.numel(); ++e) y[e] = x[broadcast_offset(x.type.dims, y.type.dims, e)];
}

std::vector<std::string> grad_broadcast_to(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  return {sum_to_shape(b, dy[0], b.type(n.inputs[0]).dims)};
}

OpDef broadcast_to_op() {
  OpDef d;
  d.name = "broadcast_to";
  d.attrs = {{"dims", AttrKind::ints, true}};
  d.infer = infer_broadcast_to;
  d.eval = eval_broadcast_to;
  d.grad = grad_broadcast_to;
  d.lowering = Lowering::index_map;
  d.index_map = [](const Node&, const std::vector<int64_t>& in, const std::vector<int64_t>& out,
                   const std::vector<int>& m) { return broadcast_index_map(in, out, m); };
  d.doc = "numpy broadcast to dims: size-1 axes repeat, missing leading axes are added";
  return d;
}

// --- flatten ------------------------------------------------------------------

/// Dims before `axis` kept, the rest multiplied into one (PyTorch's
/// nn.Flatten(start_dim=axis)). The batch dim may only be among the kept ones.
std::string infer_flatten(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  const TensorType& x = in[0];
  int64_t given = n.attr_int("axis", 1);
  if (x.rank() == 0) return "cannot flatten a scalar " + x.str();
  int64_t axis = normalize_axis(given, x.rank());
  if (axis < 0) return "axis " + std::to_string(given) + " is out of range for " + x.str();
  std::vector<int64_t> dims(x.dims.begin(), x.dims.begin() + axis);
  std::vector<int64_t> merged(x.dims.begin() + axis, x.dims.end());
  if (batch_count(merged) > 0)
    return "axis " + std::to_string(given) + " would merge the batch dimension (-1) of " + x.str() +
           " with other dims; flatten after it";
  int64_t product = static_numel(merged);
  if (product < 0) return "more elements than int64 counts: " + x.str();
  dims.push_back(product);
  out->push_back({x.dtype, dims});
  return "";
}

OpDef flatten_op() {
  OpDef d;
  d.name = "flatten";
  d.attrs = {{"axis", AttrKind::i}};
  d.infer = infer_flatten;
  d.eval = eval_copy;
  d.lowering = Lowering::expansion;
  d.expand = [](GraphBuilder& b, const Node& n) {
    return std::vector<std::string>{b.reshape(n.inputs[0], b.type(n.outputs[0]).dims)};
  };
  d.doc = "[d0..d(axis-1), d(axis)*...*d(rank-1)]: the dims from axis (default 1) on as one; keeps a batch dim in front";
  return d;
}

}  // namespace

void register_shape_ops(OpRegistry& r) {
  r.add(flatten_op());
  r.add(constant_op());
  r.add(reshape_op());
  r.add(transpose_op());
  r.add(broadcast_to_op());
}

}  // namespace dlc
