// The training loop of `dlrun train` and of the Python package's dlc.fit:
// epochs of shuffled mini-batches through train_step, the learning-rate
// schedule, evaluation after every epoch, early stopping on a held-out
// split, checkpoints that resume bit-exactly, the progress bar, a metrics
// CSV and a plot. One implementation, so the same seed gives the same
// weights whichever front end ran it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dlrt.hpp"
#include "runtime/datasets.h"
#include "runtime/training/supervised_model.h"

namespace dlc {

class ProcessGroup;

/// How to train. Zero, empty and negative values mean "not asked for".
struct TrainingOptions {
  int64_t epochs = 1;         ///< counting those of a resumed run
  LrSchedule schedule;        ///< schedule.base is the base rate; total_steps is set by run_training
  uint64_t seed = 0;          ///< shuffle seed
  double val_split = 0;       ///< hold out this fraction of the (once shuffled) training set
  int64_t patience = -1;      ///< with val_split: stop after this many epochs without a better validation loss
  std::string checkpoint;     ///< save after every epoch (and FILE.best with patience)
  std::string resume;         ///< continue from a checkpoint written by `checkpoint`
  std::string metrics;        ///< a CSV row per epoch
  std::string plot;           ///< an SVG picture of the run (training_plot.h), rewritten after every epoch
  bool progress = true;       ///< the progress bar and epoch lines on stderr
  bool print_fusion_report = false;  ///< after the first evaluation (--verify-fusion)
  std::string model_name;     ///< the model's file, named in errors
  /// Called after every update; may throw to end the run (the Python
  /// package checks for Ctrl-C here).
  std::function<void()> after_step;
  /// A data-parallel run's processes (runtime/collectives/process_group.h),
  /// null for one process. Each step, process r trains on rows [r*batch,
  /// (r+1)*batch) of the step's global batch of size() * batch shuffled
  /// rows, so the processes together see what one process at that batch
  /// would; process 0 alone prints and writes files; every process starts
  /// from process 0's weights.
  ProcessGroup* group = nullptr;
};

/// One epoch's figures.
struct EpochRecord {
  int64_t epoch = 0;  ///< 1-based
  double train_loss = 0;  ///< mean of the epoch's step losses
  EvalResult test;
  bool has_val = false;
  EvalResult val;
  double seconds = 0;  ///< training and evaluation
};

/// What a run did: per-step losses, per-epoch figures, the final result.
struct TrainingHistory {
  Task task = Task::kClassification;
  int64_t steps_per_epoch = 0;
  int64_t first_epoch = 0;           ///< epochs done before this run (a resumed run)
  int64_t first_step = 0;            ///< updates done before this run
  std::vector<double> step_losses;   ///< every update of this run, in order
  std::vector<EpochRecord> epochs;   ///< every epoch of this run
  EvalResult final_test;             ///< the test set on the final weights
  bool stopped_early = false;
  int64_t best_epoch = -1;           ///< with val_split: the epoch of the best validation loss
  int64_t epochs_done = 0;           ///< counting a resumed run's earlier epochs
  int64_t trained_samples = 0;  ///< over every process of a data-parallel run
  double seconds = 0, train_seconds = 0;  ///< the whole run; the training steps alone
};

/// A metric as the metrics CSV and `dlrun train --json` write it: six
/// significant digits (%.6g).
std::string metric_number(double v);

/// Trains `model` on `train`, evaluating on `test` after every epoch.
/// Checks both datasets and every output path before the first update;
/// throws dlc::Error (or dlrt::Error from the model) naming the file or
/// value at fault, and when the loss stops being finite.
TrainingHistory run_training(dlrt::Model& model, SupervisedModel& learner, Dataset train, const Dataset& test,
                             TrainingOptions options);

}  // namespace dlc
