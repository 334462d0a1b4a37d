#include "ir/op_registry.h"

#include <stdexcept>

namespace dlc {

const OpRegistry& OpRegistry::get() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_elementwise_ops(r);
    register_reduction_ops(r);
    register_shape_ops(r);
    register_nn_ops(r);
    register_loss_ops(r);
    register_random_ops(r);
    register_index_ops(r);
    register_conv_ops(r);
    register_norm_ops(r);
    register_collective_ops(r);
    return r;
  }();
  return registry;
}

const OpDef* OpRegistry::find(const std::string& name) const {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : &it->second;
}

const char* lowering_name(Lowering l) {
  switch (l) {
    case Lowering::elementwise: return "elementwise";
    case Lowering::reduction: return "reduction";
    case Lowering::index_map: return "index_map";
    case Lowering::reshape: return "reshape";
    case Lowering::iota: return "iota";
    case Lowering::constant: return "constant";
    case Lowering::gemm: return "gemm";
    case Lowering::random: return "random";
    case Lowering::expansion: return "expansion";
    case Lowering::window: return "window";
    case Lowering::training_switch: return "training_switch";
    case Lowering::collective: return "collective";
    case Lowering::convolution: return "convolution";
  }
  return "?";
}

void OpRegistry::add(OpDef def) {
  if (ops_.count(def.name)) throw std::logic_error("op registered twice: " + def.name);
  // Each lowering needs its field; a missing one would surface far away.
  bool complete = true;
  switch (def.lowering) {
    case Lowering::elementwise: complete = static_cast<bool>(def.expr); break;
    case Lowering::index_map: complete = static_cast<bool>(def.index_map); break;
    case Lowering::expansion: complete = static_cast<bool>(def.expand); break;
    case Lowering::window: complete = static_cast<bool>(def.window); break;
    case Lowering::convolution: complete = def.conv_geometry && def.expand && def.grad; break;
    default: break;
  }
  if (!complete) throw std::logic_error("op " + def.name + " lacks the field its lowering needs");
  if (def.expr && !def.eval) def.eval = elementwise_kernel(def.expr);
  std::string name = def.name;
  ops_.emplace(std::move(name), std::move(def));
}

std::string infer_broadcast(const Node& n, const std::vector<TensorType>& in,
                            std::vector<TensorType>* out) {
  (void)n;
  TensorType r = in[0];
  for (size_t i = 1; i < in.size(); ++i) {
    if (in[i].dtype != r.dtype)
      return std::string("operand dtypes differ: ") + in[0].str() + " vs " + in[i].str();
    if (!broadcast_dims(r.dims, in[i].dims, &r.dims))
      return "shapes do not broadcast: " + in[0].str() + " vs " + in[i].str();
  }
  out->push_back(r);
  return "";
}

std::vector<int> broadcast_index_map(const std::vector<int64_t>& in_dims, const std::vector<int64_t>& out_dims,
                                     const std::vector<int>& out_map) {
  std::vector<int> r(in_dims.size(), -1);
  size_t lead = out_dims.size() - in_dims.size();
  for (size_t j = 0; j < in_dims.size(); ++j)
    if (in_dims[j] == out_dims[j + lead]) r[j] = out_map[j + lead];
  return r;
}

RefKernel elementwise_kernel(ExprFn expr) {
  return [expr](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                const EvalContext&) {
    std::vector<SExpr> operands;
    for (size_t i = 0; i < in.size(); ++i) operands.push_back(arg(static_cast<int>(i)));
    SExpr body = expr(operands, n);
    Tensor& y = out[0];
    std::vector<double> a(in.size());
    for (int64_t e = 0; e < y.numel(); ++e) {
      for (size_t i = 0; i < in.size(); ++i)
        a[i] = (*in[i])[broadcast_offset(in[i]->type.dims, y.type.dims, e)];
      y[e] = eval_scalar(body, a.data());
    }
    round_to_dtype(y);
  };
}

}  // namespace dlc
