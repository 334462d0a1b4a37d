// Neural-network ops: matmul, and the composites softmax, log_softmax,
// one_hot and argmax.
//
// A composite's reference kernel computes it directly in float64 (with its
// own checks, e.g. one_hot's index range): the oracle its expansion into
// primitives is tested against. Compiled code and gradients come from the
// expansion.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ir/builder.h"
#include "ir/error.h"
#include "ir/grad_util.h"
#include "ir/op_registry.h"

namespace dlc {
namespace {

/// Calls `row(base, stride, len)` for every 1-D slice of `dims` along `axis`;
/// element k of a slice sits at base + k * stride.
template <typename Fn>
void for_each_row(const std::vector<int64_t>& dims, int64_t axis, Fn row) {
  int64_t outer = 1, inner = 1, len = dims[axis];
  for (int64_t i = 0; i < axis; ++i) outer *= dims[i];
  for (int64_t i = axis + 1; i < static_cast<int64_t>(dims.size()); ++i) inner *= dims[i];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) row(o * len * inner + i, inner, len);
}

// --- matmul -------------------------------------------------------------------

std::string infer_matmul(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  const TensorType &a = in[0], &b = in[1];
  bool ta = n.attr_bool("transpose_a"), tb = n.attr_bool("transpose_b");
  std::string shapes = a.str() + (ta ? "ᵀ" : "") + " x " + b.str() + (tb ? "ᵀ" : "");
  if (a.rank() != 2 || b.rank() != 2) return "matmul needs rank-2 operands: " + shapes;
  if (!is_float(a.dtype) || a.dtype != b.dtype) return "matmul needs float operands of one dtype: " + shapes;
  int64_t m = a.dims[ta ? 1 : 0], ka = a.dims[ta ? 0 : 1];
  int64_t kb = b.dims[tb ? 1 : 0], nn = b.dims[tb ? 0 : 1];
  if (ka != kb) return "matmul inner dims differ: " + shapes;
  out->push_back({a.dtype, {m, nn}});
  return "";
}

void eval_matmul(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                 const EvalContext&) {
  const Tensor &a = *in[0], &b = *in[1];
  Tensor& c = out[0];
  bool ta = n.attr_bool("transpose_a"), tb = n.attr_bool("transpose_b");
  int64_t m = c.type.dims[0], nn = c.type.dims[1], k = a.type.dims[ta ? 0 : 1];
  int64_t ar = a.type.dims[1], br = b.type.dims[1];  // row lengths as stored
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < nn; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += a[ta ? p * ar + i : i * ar + p] * b[tb ? j * br + p : p * br + j];
      c[i * nn + j] = s;
    }
}

/// For C = op(A)·op(B): dA = dC·op(B)ᵀ and dB = op(A)ᵀ·dC, transposed back
/// to each operand's stored layout.
std::vector<std::string> grad_matmul(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  const std::string &a = n.inputs[0], &w = n.inputs[1], &g = dy[0];
  bool ta = n.attr_bool("transpose_a"), tb = n.attr_bool("transpose_b");
  if (!ta && !tb) return {b.matmul(g, w, false, true), b.matmul(a, g, true, false)};
  if (ta && !tb) return {b.matmul(w, g, false, true), b.matmul(a, g, false, false)};
  if (!ta && tb) return {b.matmul(g, w, false, false), b.matmul(g, a, true, false)};
  return {b.matmul(w, g, true, true), b.matmul(g, a, true, true)};
}

/// BLAS and cuBLAS GEMMs are float32; other dtypes become a reduction:
/// C[i,j] = sum_k op(A)[i,k] * op(B)[k,j], one loop kernel with the product
/// inlined (no [M,K,N] intermediate is ever stored).
std::vector<std::string> expand_matmul(GraphBuilder& b, const Node& n) {
  const std::string &a = n.inputs[0], &w = n.inputs[1];
  if (b.type(a).dtype == DType::f32) return {};
  bool ta = n.attr_bool("transpose_a"), tb = n.attr_bool("transpose_b");
  std::string a_mk = ta ? b.op("transpose", {a}) : a;
  std::string b_kn = tb ? b.op("transpose", {w}) : w;
  int64_t m = b.type(a_mk).dims[0], k = b.type(a_mk).dims[1], nn = b.type(b_kn).dims[1];
  std::string a3 = b.reshape(a_mk, {m, k, 1}), b3 = b.reshape(b_kn, {1, k, nn});
  return {b.reduce_sum(b.mul(a3, b3), {1})};
}

OpDef matmul_op() {
  OpDef d;
  d.name = "matmul";
  d.min_inputs = d.max_inputs = 2;
  d.attrs = {{"transpose_a", AttrKind::b}, {"transpose_b", AttrKind::b}};
  d.infer = infer_matmul;
  d.eval = eval_matmul;
  d.grad = grad_matmul;
  d.lowering = Lowering::gemm;
  d.expand = expand_matmul;
  d.doc = "op(a)[M,K] x op(b)[K,N] -> [M,N], rank 2; op transposes when transpose_a / transpose_b";
  return d;
}

// --- softmax, log_softmax -------------------------------------------------------

std::string infer_softmax(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  const TensorType& x = in[0];
  if (!is_float(x.dtype)) return "needs a float input, got " + x.str();
  if (normalize_axis(n.attr_int("axis", -1), x.rank()) < 0)
    return "axis " + std::to_string(n.attr_int("axis", -1)) + " is out of range for " + x.str();
  out->push_back(x);
  return "";
}

/// Softmax or log-softmax along the axis, with the row max subtracted so
/// exp never overflows.
RefKernel eval_softmax(bool log_domain) {
  return [log_domain](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                      const EvalContext&) {
    const Tensor& x = *in[0];
    Tensor& y = out[0];
    int64_t axis = normalize_axis(n.attr_int("axis", -1), x.type.rank());
    for_each_row(x.type.dims, axis, [&](int64_t base, int64_t stride, int64_t len) {
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < len; ++k) mx = std::max(mx, x[base + k * stride]);
      double sum = 0;
      for (int64_t k = 0; k < len; ++k) sum += std::exp(x[base + k * stride] - mx);
      double log_sum = std::log(sum);
      for (int64_t k = 0; k < len; ++k) {
        double z = x[base + k * stride] - mx;
        y[base + k * stride] = log_domain ? z - log_sum : std::exp(z) / sum;
      }
    });
  };
}


/// exp(x - max) / sum, or (x - max) - log(sum), along the axis.
ExpandFn expand_softmax(bool log_domain) {
  return [log_domain](GraphBuilder& b, const Node& n) -> std::vector<std::string> {
    const std::string& x = n.inputs[0];
    int64_t axis = normalize_axis(n.attr_int("axis", -1), b.type(x).rank());
    StableExp e = stable_exp(b, x, {axis});
    if (!log_domain) return {b.div(e.exp, e.sum)};
    return {b.sub(b.sub(x, e.max), b.op("log", {e.sum}))};
  };
}

OpDef softmax_op(const std::string& name, bool log_domain) {
  OpDef d;
  d.name = name;
  d.attrs = {{"axis", AttrKind::i}};
  d.infer = infer_softmax;
  d.eval = eval_softmax(log_domain);
  d.lowering = Lowering::expansion;
  d.expand = expand_softmax(log_domain);
  d.doc = log_domain ? "x - max - log(sum(exp(x - max))) along axis (default -1)"
                     : "exp(x - max) / sum(exp(x - max)) along axis (default -1)";
  return d;
}

// --- one_hot, argmax ---------------------------------------------------------------

std::string infer_one_hot(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  const TensorType& x = in[0];
  if (!is_integer(x.dtype)) return "needs integer indices, got " + x.str();
  int64_t depth = n.attr_int("depth");
  if (depth <= 0) return "depth must be positive, got " + std::to_string(depth);
  DType dt = n.attr_dtype("dtype", DType::f32);
  if (!is_float(dt)) return std::string("dtype must be f32 or f64, got ") + dtype_name(dt);
  TensorType r{dt, x.dims};
  r.dims.push_back(depth);
  out->push_back(r);
  return "";
}

void eval_one_hot(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                  const EvalContext&) {
  const Tensor& x = *in[0];
  Tensor& y = out[0];
  int64_t depth = n.attr_int("depth");
  for (int64_t e = 0; e < x.numel(); ++e) {
    double v = x[e];
    if (!(v >= 0 && v < static_cast<double>(depth)))
      throw Error("node '" + n.name + "' (one_hot): index " + std::to_string(static_cast<int64_t>(v)) +
                  " is outside [0, " + std::to_string(depth) + ")");
    y[e * depth + static_cast<int64_t>(v)] = 1.0;
  }
}

/// equal(labels, iota) along a new last axis, as 0/1 of dtype. (An index
/// out of range gives a row of zeros; the reference kernel refuses it.)
std::vector<std::string> expand_one_hot(GraphBuilder& b, const Node& n) {
  const std::string& labels = n.inputs[0];
  const TensorType& t = b.type(labels);
  int64_t depth = n.attr_int("depth");
  std::vector<int64_t> column = t.dims;
  column.push_back(1);
  std::string index = b.op("iota", {}, {{"dims", attr_ints({depth})}, {"dtype", attr_dtype(t.dtype)}});
  std::string hot = b.op("equal", {b.reshape(labels, column), index});
  return {b.cast(hot, n.attr_dtype("dtype", DType::f32))};
}

OpDef one_hot_op() {
  OpDef d;
  d.name = "one_hot";
  d.attrs = {{"depth", AttrKind::i, true}, {"dtype", AttrKind::dtype}};
  d.infer = infer_one_hot;
  d.eval = eval_one_hot;
  d.lowering = Lowering::expansion;
  d.expand = expand_one_hot;
  d.doc = "integer indices -> 0/1 of dtype (default f32) with a new last axis of depth; an index outside [0, depth): an error in the reference, a zero row in compiled code (the class losses then give NaN)";
  return d;
}

std::string infer_argmax(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  const TensorType& x = in[0];
  if (x.dtype == DType::boolean) return "needs a numeric input, got " + x.str();
  int64_t axis = normalize_axis(n.attr_int("axis", -1), x.rank());
  if (axis < 0) return "axis " + std::to_string(n.attr_int("axis", -1)) + " is out of range for " + x.str();
  TensorType r{DType::i64, x.dims};
  r.dims.erase(r.dims.begin() + axis);
  out->push_back(r);
  return "";
}

void eval_argmax(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                 const EvalContext&) {
  const Tensor& x = *in[0];
  Tensor& y = out[0];
  int64_t axis = normalize_axis(n.attr_int("axis", -1), x.type.rank());
  int64_t inner = 1;
  for (int64_t i = axis + 1; i < x.type.rank(); ++i) inner *= x.type.dims[i];
  for_each_row(x.type.dims, axis, [&](int64_t base, int64_t stride, int64_t len) {
    int64_t best = 0;
    // Like numpy: the first maximum wins, and a NaN counts as the maximum.
    for (int64_t k = 1; k < len && !std::isnan(x[base + best * stride]); ++k) {
      double v = x[base + k * stride];
      if (std::isnan(v) || v > x[base + best * stride]) best = k;
    }
    int64_t outer_index = base / (len * inner), inner_index = base % inner;
    y[outer_index * inner + inner_index] = static_cast<double>(best);
  });
}

/// The least index along the axis where x is the max, or NaN (a NaN max
/// propagates, so the first NaN wins): two reductions of one row kernel.
std::vector<std::string> expand_argmax(GraphBuilder& b, const Node& n) {
  const std::string& x = n.inputs[0];
  const TensorType& t = b.type(x);
  int64_t axis = normalize_axis(n.attr_int("axis", -1), t.rank());
  std::string mx = b.op("reduce_max", {x}, {{"axes", attr_ints({axis})}, {"keepdims", attr_b(true)}});
  std::string index = b.op("iota", {}, {{"dims", attr_ints(t.dims)}, {"axis", attr_i(axis)}, {"dtype", attr_dtype(DType::i64)}});
  std::string past_end = b.scalar(static_cast<double>(t.dims[axis]), DType::i64);
  std::string at_max = b.op("where", {b.op("equal", {x, mx}), index, past_end});
  std::string not_nan = b.op("equal", {x, x});
  std::string candidate = b.op("where", {not_nan, at_max, index});
  return {b.op("reduce_min", {candidate}, {{"axes", attr_ints({axis})}})};
}

OpDef argmax_op() {
  OpDef d;
  d.name = "argmax";
  d.attrs = {{"axis", AttrKind::i}};
  d.infer = infer_argmax;
  d.eval = eval_argmax;
  d.lowering = Lowering::expansion;
  d.expand = expand_argmax;
  d.doc = "i64 index of the max along axis (default -1), axis removed; the first max wins, NaN counts as max";
  return d;
}

}  // namespace

void register_nn_ops(OpRegistry& r) {
  r.add(matmul_op());
  r.add(softmax_op("softmax", false));
  r.add(softmax_op("log_softmax", true));
  r.add(one_hot_op());
  r.add(argmax_op());
}

}  // namespace dlc
