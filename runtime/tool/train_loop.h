// Feeding a compiled model batches of a Dataset for `dlrun train` and
// `dlrun eval`: binds the train_step and predict inputs by role, checks the
// data against the model before anything runs, and evaluates loss,
// accuracy and a confusion matrix from the predicted probabilities.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dlrt.hpp"
#include "runtime/datasets.h"
#include "runtime/tool/command_line.h"

namespace dlc {

/// Loss, accuracy and confusion matrix of a model on a dataset.
struct EvalResult {
  double loss = 0;      ///< mean cross-entropy of the predicted probabilities, clamped at 1e-12
  double accuracy = 0;  ///< fraction of rows whose most probable class is the label
  int64_t rows = 0;
  int64_t classes = 0;
  std::vector<int64_t> confusion;  ///< classes x classes, row = label, column = prediction
};

/// A loaded model seen as a classifier to train and evaluate.
class Classifier {
 public:
  /// Inspects `model` (loaded from `path`, named in errors); throws dlc::Error
  /// when predict is missing, or when `training` and train_step is missing
  /// or takes inputs of roles it cannot feed.
  Classifier(dlrt::Model& model, const std::string& path, bool training);

  int64_t batch() const { return batch_; }
  /// Values per example of the DATA input.
  int64_t features() const { return features_; }
  /// The number of classes: the last dimension of predict's first output
  /// (2 for a single-probability binary classifier).
  int64_t classes() const { return classes_; }

  /// Throws dlc::Error naming the file and value when `d`'s examples do not
  /// have features() values or a label is outside 0..classes()-1.
  void check(const Dataset& d) const;

  /// One update on the rows `rows[0..batch())` of `d`; returns the loss.
  double train_step(const Dataset& d, const int64_t* rows, double learning_rate, int64_t step);

  /// Runs predict over every row of `d` in bound batches, the last one
  /// padded with zeros and its padded rows ignored.
  EvalResult evaluate(const Dataset& d);

 private:
  void fill_batch(const Dataset& d, const int64_t* rows, int64_t count);

  dlrt::Model& model_;
  std::string path_;
  int64_t batch_ = 0, features_ = 0, classes_ = 0;
  bool binary_ = false;  // predict yields P(class 1) only
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
/// given (.npy or CSV), else from the MNIST-layout folder `dir`. Throws
/// dlc::Error when neither is given, naming `option_hint`. `limit` >= 0
/// keeps only the first `limit` examples.
Dataset load_split(const std::string& dir, const std::string& split, const std::string& x_file,
                   const std::string& y_file, const std::string& option_hint, int64_t limit);


/// Writes `v`, converted, as element `i` of a buffer of dtype `t`.
void store_element(dlrt_dtype t, void* buf, int64_t i, double v);
/// Element `i` of a buffer of dtype `t`, as a double.
double load_element(dlrt_dtype t, const void* buf, int64_t i);

/// --verify-fusion's tolerance when none is given: float32 kernels against
/// the float64 interpreter, with Adam's division by sqrt(v) magnifying the
/// rounding of tiny gradients.
constexpr double kDefaultFusionTolerance = 1e-4;

}  // namespace dlc
