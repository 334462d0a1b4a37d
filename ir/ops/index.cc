// Primitives that composites are built from besides the element-wise ops
// and reductions: iota (the index along an axis) and stop_gradient.
//
// one_hot is equal(labels, iota); argmax is a min over iota where the max
// is; logsumexp and softmax subtract a stop_gradient(max), as JAX does, so
// the max that only keeps exp from overflowing passes no gradient.
#include "ir/builder.h"
#include "ir/op_registry.h"

namespace dlc {
namespace {

std::string infer_iota(const Node& n, const std::vector<TensorType>&, std::vector<TensorType>* out) {
  std::vector<int64_t> dims = n.attr_ints("dims");
  for (int64_t d : dims)
    if (d <= 0 && d != kBatch) return "dims " + dims_str(dims) + " must be positive or -1 (batch)";
  int64_t axis = normalize_axis(n.attr_int("axis", -1), static_cast<int64_t>(dims.size()));
  if (axis < 0) return "axis " + std::to_string(n.attr_int("axis", -1)) + " is out of range for dims " + dims_str(dims);
  DType dt = n.attr_dtype("dtype", DType::i64);
  if (dt == DType::boolean) return "dtype must be numeric";
  out->push_back({dt, dims});
  return "";
}

void eval_iota(const Node& n, const std::vector<const Tensor*>&, std::vector<Tensor>& out, const EvalContext&) {
  Tensor& y = out[0];
  const std::vector<int64_t>& dims = y.type.dims;
  int64_t axis = normalize_axis(n.attr_int("axis", -1), static_cast<int64_t>(dims.size()));
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(axis) + 1; d < dims.size(); ++d) inner *= dims[d];
  for (int64_t e = 0; e < y.numel(); ++e) y[e] = static_cast<double>((e / inner) % dims[axis]);
}

OpDef iota_op() {
  OpDef d;
  d.name = "iota";
  d.min_inputs = d.max_inputs = 0;
  d.attrs = {{"dims", AttrKind::ints, true}, {"axis", AttrKind::i}, {"dtype", AttrKind::dtype}};
  d.infer = infer_iota;
  d.eval = eval_iota;
  d.lowering = Lowering::iota;
  d.doc = "a tensor of dims and dtype (default i64) holding each element's index along axis (default -1)";
  return d;
}

OpDef stop_gradient_op() {
  OpDef d;
  d.name = "stop_gradient";
  d.infer = [](const Node&, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
    out->push_back(in[0]);
    return std::string();
  };
  d.eval = [](const Node&, const std::vector<const Tensor*>& in, std::vector<Tensor>& out, const EvalContext&) {
    out[0].data = in[0]->data;
  };
  // Differentiable, with a gradient of zero: the loss may depend on it.
  d.grad = [](GraphBuilder&, const Node&, const std::vector<std::string>&) { return std::vector<std::string>{""}; };
  d.lowering = Lowering::index_map;
  d.index_map = [](const Node&, const std::vector<int64_t>&, const std::vector<int64_t>&, const std::vector<int>& m) {
    return m;
  };
  d.doc = "the input unchanged; passes no gradient (the max that stabilizes softmax and logsumexp)";
  return d;
}

}  // namespace

void register_index_ops(OpRegistry& r) {
  r.add(iota_op());
  r.add(stop_gradient_op());
}

}  // namespace dlc
