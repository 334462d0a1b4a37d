// Collective ops: values combined over the processes of a data-parallel run.
// The compiler inserts them (compiler/passes/all_reduce_gradients.h); a
// model file may name them too. Lowering::collective: every such node of an
// entry point becomes one kernel step (AllReduceStep), a bucket.
#include "ir/op_registry.h"

namespace dlc {
namespace {

std::string infer_all_reduce_mean(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  (void)n;
  if (in[0].dtype != DType::f32 && in[0].dtype != DType::f64)
    return "input must be f32 or f64 (a gradient, a loss), got " + in[0].str();
  out->push_back(in[0]);
  return "";
}

void eval_all_reduce_mean(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                          const EvalContext& ctx) {
  (void)n;
  out[0].data = in[0]->data;
  // One process (the compiler folding constants, a single-process run): the
  // mean over one process is the value itself.
  if (ctx.all_reduce_mean) ctx.all_reduce_mean(out[0].data.data(), out[0].numel());
}

}  // namespace

void register_collective_ops(OpRegistry& r) {
  OpDef d;
  d.name = "all_reduce_mean";
  d.min_inputs = d.max_inputs = 1;
  d.infer = infer_all_reduce_mean;
  d.eval = eval_all_reduce_mean;
  // Inserted after autodiff; a gradient through it would be a gradient
  // through the other processes' data, which no rule here defines.
  d.lowering = Lowering::collective;
  d.doc = "data-parallel runs: the element-wise mean of the input over every process (the identity in one process)";
  r.add(d);
}

}  // namespace dlc
