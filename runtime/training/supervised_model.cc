#include "runtime/training/supervised_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ir/error.h"
#include "ir/number_text.h"
#include "ir/printer.h"  // format_number
#include "runtime/collectives/process_group.h"

namespace dlc {
namespace {

std::vector<uint8_t> buffer(const dlrt::TensorInfo& t) {
  return std::vector<uint8_t>(static_cast<size_t>(t.numel) * dlrt_dtype_size(t.dtype));
}

}  // namespace

void store_element(dlrt_dtype t, void* buf, int64_t i, double v) {
  switch (t) {
    case DLRT_F32: static_cast<float*>(buf)[i] = static_cast<float>(v); break;
    case DLRT_F64: static_cast<double*>(buf)[i] = v; break;
    case DLRT_I32: static_cast<int32_t*>(buf)[i] = static_cast<int32_t>(v); break;
    case DLRT_I64: static_cast<int64_t*>(buf)[i] = static_cast<int64_t>(v); break;
    case DLRT_BOOL: static_cast<uint8_t*>(buf)[i] = v != 0; break;
  }
}

double load_element(dlrt_dtype t, const void* buf, int64_t i) {
  switch (t) {
    case DLRT_F32: return static_cast<const float*>(buf)[i];
    case DLRT_F64: return static_cast<const double*>(buf)[i];
    case DLRT_I32: return static_cast<const int32_t*>(buf)[i];
    case DLRT_I64: return static_cast<double>(static_cast<const int64_t*>(buf)[i]);
    case DLRT_BOOL: return static_cast<const uint8_t*>(buf)[i];
  }
  return 0;
}

SupervisedModel::SupervisedModel(dlrt::Model& model, const std::string& path, bool training)
    : model_(model), path_(path) {
  batch_ = model.batch();
  if (!model.has_entry("predict")) throw Error(path + ": the executable has no predict entry point");
  if (training && !model.has_entry("train_step"))
    throw Error(path + ": the executable has no train_step entry point (compile a model with a training section)");

  // Roles come from the graph's input list, which covers both entry points.
  for (const auto& in : model.inputs()) {
    if (in.role == DLRT_ROLE_DATA) {
      if (!data_name_.empty())
        throw Error(path + ": the model has two DATA inputs ('" + data_name_ + "', '" + in.name +
                    "'); dlrun train feeds one");
      if (in.dims.empty() || in.dims[0] != batch_)
        throw Error(path + ": DATA input '" + in.name + "' " + in.type_str() + " does not lead with the batch");
      data_name_ = in.name;
      data_dtype_ = in.dtype;
      data_type_ = in.type_str();
      features_ = in.numel / batch_;
      data_buf_ = buffer(in);
    } else if (in.role == DLRT_ROLE_LABEL) {
      // The label's dtype says what the model learns; no flag can contradict it.
      task_ = in.dtype == DLRT_F32 || in.dtype == DLRT_F64 ? Task::kRegression : Task::kClassification;
      if (in.dims.empty() || in.dims[0] != batch_ || in.numel != batch_)
        throw Error(path + ": LABEL input '" + in.name + "' " + in.type_str() + " is not one " +
                    (task_ == Task::kRegression ? "target" : "class index") + " per example, which dlrun needs");
      label_name_ = in.name;
      label_dtype_ = in.dtype;
      label_numel_ = in.numel;
      label_buf_ = buffer(in);
    } else if (in.role == DLRT_ROLE_LEARNING_RATE) {
      lr_name_ = in.name;
      lr_dtype_ = in.dtype;
    } else if (in.role == DLRT_ROLE_STEP) {
      step_name_ = in.name;
      step_dtype_ = in.dtype;
    }
  }
  if (data_name_.empty()) throw Error(path + ": the model has no DATA input to feed examples to");

  for (const auto& in : model.entry_inputs("predict")) {
    if (in.name != data_name_ && in.name != label_name_)
      throw Error(path + ": predict needs input '" + in.name + "', which dlrun cannot feed");
    predict_inputs_.push_back(in.name);
  }
  auto outs = model.entry_outputs("predict");
  if (outs.empty()) throw Error(path + ": predict has no outputs");
  const auto& probs = outs[0];
  const char* want = task_ == Task::kRegression ? "a batch of predicted targets" : "a batch of class probabilities";
  if (probs.dims.empty() || probs.dims[0] != batch_ || (probs.dtype != DLRT_F32 && probs.dtype != DLRT_F64))
    throw Error(path + ": predict's output '" + probs.name + "' " + probs.type_str() + " is not " + want);
  if (task_ == Task::kRegression && probs.numel != batch_)
    throw Error(path + ": predict's output '" + probs.name + "' " + probs.type_str() +
                " is not one prediction per example, but the LABEL input '" + label_name_ +
                "' is one target per example");
  probs_name_ = probs.name;
  probs_dtype_ = probs.dtype;
  probs_numel_ = probs.numel;
  probs_buf_ = buffer(probs);
  if (task_ == Task::kClassification) {
    classes_ = probs.numel / batch_;
    if (classes_ == 1) {
      binary_ = true;
      classes_ = 2;
    }
  }

  if (training) {
    if (label_name_.empty()) throw Error(path + ": the model has no LABEL input, so it cannot be trained on labels");
    for (const auto& in : model.entry_inputs("train_step"))
      if (in.name != data_name_ && in.name != label_name_ && in.name != lr_name_ && in.name != step_name_)
        throw Error(path + ": train_step needs input '" + in.name + "', which dlrun train cannot feed");
    auto touts = model.entry_outputs("train_step");
    if (touts.empty() || touts[0].numel != 1)
      throw Error(path + ": train_step's first output is not the scalar loss");
    loss_name_ = touts[0].name;
    loss_dtype_ = touts[0].dtype;
  }
}

void SupervisedModel::check(const Dataset& d) const {
  if (d.features() != features_) {
    std::string shape;
    for (int64_t v : d.sample_dims) shape += (shape.empty() ? "" : "x") + std::to_string(v);
    throw Error(d.x_source + ": examples of shape " + shape + " (" + std::to_string(d.features()) +
                " values), but the model's input '" + data_name_ + "' " + data_type_ + " takes " +
                std::to_string(features_) + " values per example");
  }
  if (d.label_kind != label_kind())
    throw Error(d.y_source + ": read as " +
                (d.label_kind == LabelKind::kRealTarget ? "real-valued targets" : "class indices") +
                ", but the model's LABEL input '" + label_name_ + "' takes " +
                (task_ == Task::kRegression ? "real-valued targets" : "class indices"));
  if (task_ == Task::kRegression) return;
  for (size_t i = 0; i < d.y.size(); ++i)
    if (d.y[i] < 0 || d.y[i] >= static_cast<double>(classes_))
      throw Error(d.y_source + ": label " + std::to_string(i) + " is " + format_number(d.y[i]) +
                  ", outside the model's " + std::to_string(classes_) + " classes (0.." + std::to_string(classes_ - 1) +
                  ")");
}

void SupervisedModel::fill_batch(const Dataset& d, const int64_t* rows, int64_t count) {
  const int64_t f = features_;
  if (data_dtype_ == DLRT_F32) {
    auto* out = reinterpret_cast<float*>(data_buf_.data());
    for (int64_t r = 0; r < count; ++r)
      std::memcpy(out + r * f, d.x.data() + rows[r] * f, static_cast<size_t>(f) * sizeof(float));
    std::fill(out + count * f, out + batch_ * f, 0.0f);
  } else {
    std::fill(data_buf_.begin(), data_buf_.end(), 0);
    for (int64_t r = 0; r < count; ++r)
      for (int64_t k = 0; k < f; ++k) store_element(data_dtype_, data_buf_.data(), r * f + k, d.x[rows[r] * f + k]);
  }
  if (!label_name_.empty()) {
    std::fill(label_buf_.begin(), label_buf_.end(), 0);
    for (int64_t r = 0; r < count; ++r)
      store_element(label_dtype_, label_buf_.data(), r, d.y[static_cast<size_t>(rows[r])]);
  }
}

double SupervisedModel::train_step(const Dataset& d, const int64_t* rows, double learning_rate, int64_t step) {
  fill_batch(d, rows, batch_);
  uint8_t lr_buf[8], step_buf[8];
  store_element(lr_dtype_, lr_buf, 0, learning_rate);
  store_element(step_dtype_, step_buf, 0, static_cast<double>(step));
  std::vector<dlrt_input> in = {{data_name_.c_str(), data_dtype_, data_buf_.data(), batch_ * features_},
                                {label_name_.c_str(), label_dtype_, label_buf_.data(), label_numel_}};
  if (!lr_name_.empty()) in.push_back({lr_name_.c_str(), lr_dtype_, lr_buf, 1});
  if (!step_name_.empty()) in.push_back({step_name_.c_str(), step_dtype_, step_buf, 1});
  uint8_t loss_buf[8];
  std::vector<dlrt_output> out = {{loss_name_.c_str(), loss_dtype_, loss_buf, 1}};
  model_.run("train_step", in, out);
  return load_element(loss_dtype_, loss_buf, 0);
}

EvalResult SupervisedModel::evaluate(const Dataset& d, ProcessGroup* group) {
  EvalResult res;
  res.task = task_;
  res.rows = d.rows;
  res.classes = classes_;
  res.confusion.assign(static_cast<size_t>(classes_ * classes_), 0);
  std::vector<dlrt_input> in;
  for (const auto& name : predict_inputs_) {
    if (name == data_name_) in.push_back({data_name_.c_str(), data_dtype_, data_buf_.data(), batch_ * features_});
    else in.push_back({label_name_.c_str(), label_dtype_, label_buf_.data(), label_numel_});
  }
  // Several processes predict one contiguous share of the batches each;
  // every process then scores all the predictions, in row order, exactly as
  // one process would: the figures are the same on all and cover each row once.
  const int ranks = group ? group->size() : 1, rank = group ? group->rank() : 0;
  const int64_t batches = (d.rows + batch_ - 1) / batch_;
  const int64_t share = (batches + ranks - 1) / ranks;
  const size_t batch_bytes = probs_buf_.size();
  std::vector<uint8_t> mine, all;
  if (ranks > 1) {
    mine.assign(static_cast<size_t>(share) * batch_bytes, 0);
    all.resize(static_cast<size_t>(ranks) * mine.size());
  }
  std::vector<dlrt_output> out = {{probs_name_.c_str(), probs_dtype_, probs_buf_.data(), probs_numel_}};
  std::vector<int64_t> rows(static_cast<size_t>(batch_));
  auto predict = [&](int64_t b) {
    int64_t start = b * batch_, count = std::min(batch_, d.rows - start);
    for (int64_t r = 0; r < count; ++r) rows[static_cast<size_t>(r)] = start + r;
    fill_batch(d, rows.data(), count);
    model_.run("predict", in, out);
  };
  double loss_sum = 0, squared_error = 0;
  int64_t correct = 0;
  auto score = [&](int64_t b, const uint8_t* probs) {
    int64_t start = b * batch_, count = std::min(batch_, d.rows - start);
    if (task_ == Task::kClassification) {
      score_classes(d, probs, start, count, &loss_sum, &correct, &res);
      return;
    }
    for (int64_t r = 0; r < count; ++r) {
      double e = load_element(probs_dtype_, probs, r) - d.y[static_cast<size_t>(start + r)];
      squared_error += e * e;
    }
  };
  if (ranks == 1) {
    for (int64_t b = 0; b < batches; ++b) {
      predict(b);
      score(b, probs_buf_.data());
    }
  } else {
    for (int64_t b = rank * share; b < std::min(batches, (rank + 1) * share); ++b) {
      predict(b);
      std::copy(probs_buf_.begin(), probs_buf_.end(), mine.begin() + static_cast<std::ptrdiff_t>((b - rank * share) * batch_bytes));
    }
    group->all_gather(mine.data(), static_cast<int64_t>(mine.size()), all.data());
    for (int64_t b = 0; b < batches; ++b) score(b, all.data() + static_cast<size_t>(b) * batch_bytes);
  }
  if (d.rows == 0) return res;
  const double n = static_cast<double>(d.rows);
  if (task_ == Task::kClassification) {
    res.loss = loss_sum / n;
    res.accuracy = static_cast<double>(correct) / n;
    return res;
  }
  double mean = 0;
  for (double y : d.y) mean += y;
  mean /= n;
  double total = 0;
  for (double y : d.y) total += (y - mean) * (y - mean);
  res.mse = squared_error / n;
  res.loss = res.mse;
  res.r2 = total > 0 ? 1 - squared_error / total : NAN;
  return res;
}

void SupervisedModel::score_classes(const Dataset& d, const uint8_t* probs, int64_t start, int64_t count,
                                    double* loss_sum, int64_t* correct, EvalResult* res) const {
  for (int64_t r = 0; r < count; ++r) {
    int64_t label = static_cast<int64_t>(d.y[static_cast<size_t>(start + r)]);
    int64_t best = 0;
    double p_label = 0;
    if (binary_) {
      double p1 = load_element(probs_dtype_, probs, r);
      best = p1 > 0.5 ? 1 : 0;
      p_label = label == 1 ? p1 : 1 - p1;
    } else {
      const int64_t base = r * classes_;
      double best_p = -1;
      for (int64_t c = 0; c < classes_; ++c) {
        double p = load_element(probs_dtype_, probs, base + c);
        if (p > best_p) best_p = p, best = c;
      }
      p_label = load_element(probs_dtype_, probs, base + label);
    }
    *loss_sum += -std::log(std::max(p_label, 1e-12));
    *correct += best == label;
    ++res->confusion[static_cast<size_t>(label * classes_ + best)];
  }
}

std::string metrics_text(const EvalResult& r, const std::string& prefix) {
  char buf[128];
  if (r.task == Task::kRegression)
    std::snprintf(buf, sizeof buf, "%s mse %.6g, %s r2 %.4f", prefix.c_str(), r.mse, prefix.c_str(), r.r2);
  else
    std::snprintf(buf, sizeof buf, "%s loss %.4f, %s accuracy %.4f", prefix.c_str(), r.loss, prefix.c_str(),
                  r.accuracy);
  return buf;
}

double LrSchedule::at(int64_t step, int64_t epoch) const {
  if (warmup > 0 && step <= warmup) return base * static_cast<double>(step) / static_cast<double>(warmup);
  switch (kind) {
    case kConstant: return base;
    case kStep: return base * std::pow(gamma, static_cast<double>(epoch / std::max<int64_t>(step_every, 1)));
    case kCosine: {
      double span = static_cast<double>(std::max<int64_t>(total_steps - warmup, 1));
      double t = std::min(1.0, static_cast<double>(step - warmup) / span);
      return base * 0.5 * (1 + std::cos(M_PI * t));
    }
  }
  return base;
}

}  // namespace dlc

namespace dlc {

Dataset load_split(const std::string& dir, const std::string& split, const std::string& x_file,
                   const std::string& y_file, const std::string& option_hint, int64_t limit, LabelKind kind) {
  if (!x_file.empty() || !y_file.empty()) {
    if (x_file.empty() || y_file.empty()) throw Error("give both " + option_hint + " files (examples and labels)");
    Dataset d = load_xy_files(x_file, y_file, kind);
    d.limit(limit);
    return d;
  }
  if (dir.empty()) throw Error("no " + split + " data: give --data DIR or " + option_hint);
  return load_mnist_split(dir, split, limit, kind);
}

}  // namespace dlc
