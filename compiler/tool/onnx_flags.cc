#include "compiler/tool/onnx_flags.h"

#include "frontend/model_loader.h"
#include "ir/error.h"
#include "ir/number_text.h"

namespace dlc {

const char* const kOnnxFlagsUsage =
    "ONNX import (MODEL.onnx; without --loss the model is inference-only):\n"
    "  --loss KIND           a registered loss (softmax_cross_entropy, mse, ...) on --loss-output\n"
    "  --loss-output NAME    the graph output the loss applies to (default: the first)\n"
    "  --label NAME          the LABEL input's name (default label)\n"
    "  --label-dtype T       i32, i64 or f32 (default: i32 for class-index losses, else f32)\n"
    "  --optimizer KIND      sgd (default), momentum, nesterov, adagrad, rmsprop, adadelta, adam, adamw\n"
    "  --lr X --momentum X --beta1 X --beta2 X --epsilon X --rho X --weight-decay X\n"
    "                        the optimizer's hyper-parameters (lr default 0.01)\n"
    "  --l1 X --l2 X         regularization of every trainable parameter\n"
    "  --trainable NAME      train this initializer (repeatable)\n"
    "  --frozen NAME         keep this initializer fixed (repeatable)\n";

bool take_onnx_flag(const std::string& flag, const std::function<std::string()>& value, OnnxImportOptions* o) {
  auto real = [&] { return parse_real_number(flag, value(), RealRange::non_negative()); };
  proto::Optimizer& opt = o->optimizer;
  if (flag == "--loss") o->loss = value();
  else if (flag == "--loss-output") o->loss_output = value();
  else if (flag == "--label") o->label = value();
  else if (flag == "--label-dtype") o->label_dtype = value();
  else if (flag == "--optimizer") opt.set_kind(value());
  else if (flag == "--lr") opt.set_learning_rate(real());
  else if (flag == "--momentum") opt.set_momentum(real());
  else if (flag == "--beta1") opt.set_beta1(real());
  else if (flag == "--beta2") opt.set_beta2(real());
  else if (flag == "--epsilon") opt.set_epsilon(real());
  else if (flag == "--rho") opt.set_rho(real());
  else if (flag == "--weight-decay") opt.set_weight_decay(real());
  else if (flag == "--l1" || flag == "--l2") {
    proto::Regularizer r;
    if (flag == "--l1") r.set_l1(real());
    else r.set_l2(real());
    o->regularization.push_back(r);
  } else if (flag == "--trainable") o->trainable.push_back(value());
  else if (flag == "--frozen") o->frozen.push_back(value());
  else return false;
  return true;
}

Model load_any_model(const std::string& path, const OnnxImportOptions& onnx, bool onnx_flags_given) {
  if (is_onnx_path(path)) return import_onnx(path, onnx);
  if (onnx_flags_given) throw Error(path + ": the ONNX import flags (--loss, --optimizer, ...) apply to .onnx files only");
  return load_model(path);
}

}  // namespace dlc
