// Normalization: batch_norm (PyTorch's BatchNorm1d/2d) and the primitive
// that lets a composite differ between training and inference, if_training.
//
// One graph serves both entry points of an executable (train_step and
// predict), so an expansion cannot know which one it is building for.
// batch_norm therefore expands into both forms and joins them with
// if_training(batch_form, running_form): fusion resolves it per entry point
// (compiler/training_switch.h), the interpreter from EvalContext::training.
// Autodiff runs for train_step only, so only the training form gets a
// gradient.
//
// The running statistics are frozen parameters updated inside train_step:
// when the model trains, the expansion records (running_mean, new value)
// and (running_var, new value) through GraphBuilder::update_state into
// Model::updates, next to the optimizer's updates.
#include <cmath>

#include "ir/builder.h"
#include "ir/error.h"
#include "ir/grad_util.h"
#include "ir/op_registry.h"

namespace dlc {
namespace {

// --- if_training ----------------------------------------------------------------

std::string infer_if_training(const Node&, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  if (in[0] != in[1])
    return "the training value " + in[0].str() + " and the inference value " + in[1].str() + " differ in type";
  out->push_back(in[0]);
  return "";
}

OpDef if_training_op() {
  OpDef d;
  d.name = "if_training";
  d.min_inputs = d.max_inputs = 2;
  d.infer = infer_if_training;
  d.eval = [](const Node&, const std::vector<const Tensor*>& in, std::vector<Tensor>& out, const EvalContext& ctx) {
    out[0].data = in[ctx.training ? 0 : 1]->data;
  };
  // Gradients exist only in train_step, where the value is input 0.
  d.grad = [](GraphBuilder&, const Node&, const std::vector<std::string>& dy) {
    return std::vector<std::string>{dy[0], ""};
  };
  d.lowering = Lowering::training_switch;
  d.doc = "input 0 in train_step, input 1 in predict (batch_norm's batch vs running statistics); "
          "the gradient goes to input 0";
  return d;
}

// --- batch_norm -----------------------------------------------------------------

constexpr double kDefaultMomentum = 0.1;
constexpr double kDefaultEpsilon = 1e-5;
const char* const kStatNames[] = {"x", "gamma", "beta", "running_mean", "running_var"};

std::string infer_batch_norm(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  const TensorType& x = in[0];
  if (!is_float(x.dtype)) return "x must be a float tensor, got " + x.str();
  if (x.rank() < 2) return "x must have rank 2 or more ([N, C, ...]), got " + x.str();
  int64_t c = x.dims[1];
  if (c == kBatch) return "the channel dim (dim 1) of x " + x.str() + " is the batch dimension";
  TensorType per_channel{x.dtype, {c}};
  for (size_t i = 1; i < in.size(); ++i)
    if (in[i] != per_channel)
      return std::string(kStatNames[i]) + " must be " + per_channel.str() + " (one per channel of x " + x.str() +
             "), got " + in[i].str();
  double momentum = n.attr_float("momentum", kDefaultMomentum);
  if (!(momentum >= 0 && momentum <= 1)) return "momentum " + std::to_string(momentum) + " is outside [0, 1]";
  double eps = n.attr_float("epsilon", kDefaultEpsilon);
  if (!(eps > 0) || !std::isfinite(eps)) return "epsilon " + std::to_string(eps) + " must be positive and finite";
  out->push_back(x);
  return "";
}

/// Computed directly in float64 (not through the expansion): the oracle the
/// expansion is swept against. Training normalizes with the batch's mean
/// and biased variance, inference with the running statistics.
void eval_batch_norm(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                     const EvalContext& ctx) {
  const Tensor& x = *in[0];
  const std::vector<int64_t>& dims = x.type.dims;
  int64_t batch = dims[0], channels = dims[1], inner = 1;
  for (size_t i = 2; i < dims.size(); ++i) inner *= dims[i];
  double eps = n.attr_float("epsilon", kDefaultEpsilon);
  auto at = [&](int64_t b, int64_t c, int64_t i) { return (b * channels + c) * inner + i; };
  for (int64_t c = 0; c < channels; ++c) {
    double mean = (*in[3])[c], var = (*in[4])[c];
    if (ctx.training) {
      double count = static_cast<double>(batch * inner), sum = 0, sq = 0;
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t i = 0; i < inner; ++i) sum += x[at(b, c, i)];
      mean = sum / count;
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t i = 0; i < inner; ++i) sq += (x[at(b, c, i)] - mean) * (x[at(b, c, i)] - mean);
      var = sq / count;
    }
    double scale = (*in[1])[c] / std::sqrt(var + eps), shift = (*in[2])[c];
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < inner; ++i) out[0][at(b, c, i)] = (x[at(b, c, i)] - mean) * scale + shift;
  }
}

std::vector<std::string> expand_batch_norm(GraphBuilder& b, const Node& n) {
  const std::string &x = n.inputs[0], &gamma = n.inputs[1], &beta = n.inputs[2];
  const std::string &running_mean = n.inputs[3], &running_var = n.inputs[4];
  const TensorType& xt = b.type(x);
  DType dt = xt.dtype;
  int64_t rank = xt.rank(), channels = xt.dims[1];
  double momentum = n.attr_float("momentum", kDefaultMomentum);
  std::string eps = b.scalar(n.attr_float("epsilon", kDefaultEpsilon), dt);

  // Statistics are per channel (dim 1), over every other dim.
  std::vector<int64_t> axes{0};
  for (int64_t i = 2; i < rank; ++i) axes.push_back(i);
  // A [C] vector as [C, 1, ...] so it broadcasts along dim 1 of x.
  std::vector<int64_t> channel_dims(static_cast<size_t>(rank - 1), 1);
  channel_dims[0] = channels;
  auto per_channel = [&](const std::string& v) { return rank == 2 ? v : b.reshape(v, channel_dims); };
  std::string g = per_channel(gamma), bias = per_channel(beta);
  auto mean_over = [&](const std::string& v) {
    return b.op("reduce_mean", {v}, {{"axes", attr_ints(axes)}, {"keepdims", attr_b(true)}});
  };

  // train_step: the batch's mean and biased variance.
  std::string mean = mean_over(x);
  std::string centered = b.sub(x, mean);
  std::string var = mean_over(b.mul(centered, centered));
  std::string batch_form = b.add(b.mul(b.mul(centered, b.op("rsqrt", {b.add(var, eps)})), g), bias);
  // predict: the running statistics.
  std::string running_form = b.add(
      b.mul(b.mul(b.sub(x, per_channel(running_mean)), b.op("rsqrt", {b.add(per_channel(running_var), eps)})), g),
      bias);
  std::string y = b.op("if_training", {batch_form, running_form});

  if (b.records_state_updates()) {
    // PyTorch: running = (1 - momentum) running + momentum batch_stat, the
    // variance unbiased (n / (n - 1)) for the running estimate only.
    bool one_value = true;  // per channel, when the dims are static
    for (int64_t a : axes) one_value = one_value && xt.dims[a] == 1;
    if (one_value)
      throw Error("node '" + n.name + "' (batch_norm): training needs more than one value per channel to estimate "
                  "the variance; x is " + xt.str());
    std::string count = element_count(b, xt.dims, axes, dt);
    std::string unbiased = b.mul(b.reshape(var, {channels}), b.div(count, b.sub(count, b.scalar(1, dt))));
    auto blend = [&](const std::string& running, const std::string& batch_stat) {
      return b.add(b.mul(running, b.scalar(1 - momentum, dt)), b.mul(batch_stat, b.scalar(momentum, dt)));
    };
    std::string new_mean = blend(running_mean, b.reshape(mean, {channels}));
    std::string new_var = blend(running_var, unbiased);
    try {
      b.update_state(running_mean, new_mean);
      b.update_state(running_var, new_var);
    } catch (const Error& e) {
      throw Error("node '" + n.name + "' (batch_norm): " + e.what());
    }
  }
  return {y};
}

OpDef batch_norm_op() {
  OpDef d;
  d.name = "batch_norm";
  d.min_inputs = d.max_inputs = 5;
  d.attrs = {{"momentum", AttrKind::f}, {"epsilon", AttrKind::f}};
  d.infer = infer_batch_norm;
  d.eval = eval_batch_norm;
  d.lowering = Lowering::expansion;
  d.expand = expand_batch_norm;
  d.doc = "batch_norm(x[N,C,...], gamma, beta, running_mean, running_var [C]): train_step normalizes with the "
          "batch's statistics and updates the running ones (momentum 0.1, unbiased var), predict uses the "
          "running ones; epsilon 1e-5";
  return d;
}

}  // namespace

void register_norm_ops(OpRegistry& r) {
  r.add(if_training_op());
  r.add(batch_norm_op());
}

}  // namespace dlc
