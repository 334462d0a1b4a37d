// Random ops: dropout, with masks drawn from Philox (ir/philox.h) so every
// backend reproduces them bit for bit.
#include "ir/builder.h"
#include "ir/op_registry.h"
#include "ir/philox.h"

namespace dlc {

/// Gradient rules pin the key explicitly so renaming cannot change it.
uint64_t dropout_key(const Node& n) {
  return n.has_attr("key") ? static_cast<uint64_t>(n.attr_int("key")) : fnv1a64(n.name);
}

namespace {

std::string infer_dropout(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  double rate = n.attr_float("rate");
  if (!(rate >= 0.0 && rate < 1.0)) return "rate must be in [0, 1), got " + std::to_string(rate);
  if (!is_float(in[0].dtype)) return "input must be a float tensor, got " + in[0].str();
  out->push_back(in[0]);
  return "";
}

void eval_dropout(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                  const EvalContext& ctx) {
  const Tensor& x = *in[0];
  Tensor& y = out[0];
  float rate = static_cast<float>(n.attr_float("rate"));
  if (!ctx.training || rate == 0.0f) {
    y.data = x.data;
    return;
  }
  uint64_t key = dropout_key(n);
  // The scale uses the same f32 rate the mask compares against.
  double scale = 1.0 / (1.0 - static_cast<double>(rate));
  for (int64_t i = 0; i < y.numel(); ++i)
    y[i] = dropout_keep(ctx.seed, key, ctx.step, static_cast<uint64_t>(i), rate) ? x[i] * scale : 0.0;
}

/// d/dx of x ↦ mask·x/(1-rate) is the same mask and scale applied to dy:
/// a dropout node with the same rate and key draws the same mask.
std::vector<std::string> grad_dropout(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  Attrs attrs{{"rate", attr_f(n.attr_float("rate"))},
              {"key", attr_i(static_cast<int64_t>(dropout_key(n)))}};
  return {b.op("dropout", {dy[0]}, attrs)};
}

}  // namespace

void register_random_ops(OpRegistry& r) {
  OpDef d;
  d.name = "dropout";
  d.min_inputs = d.max_inputs = 1;
  d.attrs = {{"rate", AttrKind::f, true}, {"key", AttrKind::i, false}};
  d.infer = infer_dropout;
  d.eval = eval_dropout;
  d.grad = grad_dropout;
  // Not element-wise: the mask depends on the element's flat index, which a
  // scalar expression cannot see; loop kernels load it (Access::mask).
  d.lowering = Lowering::random;
  d.random = true;
  d.doc = "training: zero each element with probability rate, scale the rest by 1/(1-rate); else identity";
  r.add(d);
}

}  // namespace dlc
