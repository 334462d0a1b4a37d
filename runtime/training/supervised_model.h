// Feeding a compiled model batches of a Dataset for `dlrun train` and
// `dlrun eval`: binds the train_step and predict inputs by role, checks the
// data against the model before anything runs, and evaluates it: loss,
// accuracy and a confusion matrix from the predicted probabilities of a
// classifier, mean squared error and R^2 of a regressor's predictions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dlrt.hpp"
#include "runtime/datasets.h"
#include "runtime/tool/command_line.h"

namespace dlc {

class ProcessGroup;  // runtime/collectives/process_group.h

/// What a model learns, decided by its LABEL input's dtype: an integer label
/// is a class index (classification), a float label a real-valued target
/// (regression).
enum class Task { kClassification, kRegression };

/// How a model did on a dataset. Classification fills accuracy and the
/// confusion matrix; regression fills mse and r2.
struct EvalResult {
  Task task = Task::kClassification;
  /// Classification: mean cross-entropy of the predicted probabilities,
  /// clamped at 1e-12. Regression: the mean squared error (= mse).
  double loss = 0;
  double accuracy = 0;  ///< fraction of rows whose most probable class is the label
  double mse = 0;       ///< mean of (prediction - target)^2
  /// 1 - (sum of squared errors) / (sum of squared deviations of the
  /// targets from their mean); NaN when every target is the same.
  double r2 = 0;
  int64_t rows = 0;
  int64_t classes = 0;
  std::vector<int64_t> confusion;  ///< classes x classes, row = label, column = prediction
};

/// "test loss 0.1234, test accuracy 0.8765" or "test mse 0.0123, test r2
/// 0.9987": the metrics of `r` for a progress line, each named after `prefix`.
std::string metrics_text(const EvalResult& r, const std::string& prefix);

/// A loaded model seen as a classifier or a regressor to train and evaluate.
class SupervisedModel {
 public:
  /// Inspects `model` (loaded from `path`, named in errors); throws dlc::Error
  /// when predict is missing, or when `training` and train_step is missing
  /// or takes inputs of roles it cannot feed.
  SupervisedModel(dlrt::Model& model, const std::string& path, bool training);

  int64_t batch() const { return batch_; }
  /// Values per example of the DATA input.
  int64_t features() const { return features_; }
  Task task() const { return task_; }
  /// What label files must hold for this model.
  LabelKind label_kind() const {
    return task_ == Task::kRegression ? LabelKind::kRealTarget : LabelKind::kClassIndex;
  }
  /// Classification: the number of classes: the last dimension of predict's
  /// first output (2 for a single-probability binary classifier).
  int64_t classes() const { return classes_; }

  /// Throws dlc::Error naming the file and value when `d`'s examples do not
  /// have features() values, its labels are of the other kind, or a class
  /// label is outside 0..classes()-1.
  void check(const Dataset& d) const;

  /// One update on the rows `rows[0..batch())` of `d`; returns the loss.
  double train_step(const Dataset& d, const int64_t* rows, double learning_rate, int64_t step);

  /// Runs predict over every row of `d` in bound batches, the last one
  /// padded with zeros and its padded rows ignored. With a `group` of
  /// several processes (a data-parallel run), each predicts its share of the
  /// batches and every one returns the figures of the whole of `d`.
  EvalResult evaluate(const Dataset& d, ProcessGroup* group = nullptr);

 private:
  void fill_batch(const Dataset& d, const int64_t* rows, int64_t count);
  /// Adds one predicted batch of `count` rows from `start` to the sums.
  void score_classes(const Dataset& d, const uint8_t* probs, int64_t start, int64_t count, double* loss_sum,
                     int64_t* correct, EvalResult* res) const;

  dlrt::Model& model_;
  std::string path_;
  Task task_ = Task::kClassification;
  int64_t batch_ = 0, features_ = 0, classes_ = 0;
  bool binary_ = false;  // predict yields P(class 1) only
  std::string data_type_;  // e.g. "f32[32,1,28,28]", for errors
  std::string data_name_, label_name_, lr_name_, step_name_, loss_name_, probs_name_;
  dlrt_dtype data_dtype_ = DLRT_F32, label_dtype_ = DLRT_I32, probs_dtype_ = DLRT_F32, loss_dtype_ = DLRT_F32;
  dlrt_dtype lr_dtype_ = DLRT_F32, step_dtype_ = DLRT_F32;
  int64_t label_numel_ = 0, probs_numel_ = 0;
  std::vector<std::string> predict_inputs_;
  std::vector<uint8_t> data_buf_, label_buf_, probs_buf_;
};

/// The learning rate at 1-based update `step` of epoch `epoch` (0-based).
struct LrSchedule {
  enum Kind { kConstant, kStep, kCosine } kind = kConstant;
  double base = 0.1;
  int64_t warmup = 0;       ///< linear warm-up over this many steps
  int64_t step_every = 1;   ///< kStep: epochs between decays
  double gamma = 0.1;       ///< kStep: factor per decay
  int64_t total_steps = 1;  ///< kCosine: steps of the whole run

  double at(int64_t step, int64_t epoch) const;
};

}  // namespace dlc

namespace dlc {

/// The `split` ("train" or "t10k") examples: from `x_file`/`y_file` when
/// given (.npy or CSV), else from the MNIST-layout folder `dir`; labels
/// read as `kind`. Throws dlc::Error when neither is given, naming
/// `option_hint`. `limit` >= 0 keeps only the first `limit` examples.
Dataset load_split(const std::string& dir, const std::string& split, const std::string& x_file,
                   const std::string& y_file, const std::string& option_hint, int64_t limit, LabelKind kind);


/// Writes `v`, converted, as element `i` of a buffer of dtype `t`.
void store_element(dlrt_dtype t, void* buf, int64_t i, double v);
/// Element `i` of a buffer of dtype `t`, as a double.
double load_element(dlrt_dtype t, const void* buf, int64_t i);

/// --verify-fusion's tolerance when none is given: float32 kernels against
/// the float64 interpreter, with Adam's division by sqrt(v) magnifying the
/// rounding of tiny gradients.
constexpr double kDefaultFusionTolerance = 1e-4;

}  // namespace dlc
