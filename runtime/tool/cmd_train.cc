// `dlrun train MODEL.dlc --data DIR --epochs N`: trains a compiled
// classifier or regressor (by its LABEL input's dtype) through the C API's
// train_step entry point and evaluates it with predict after every epoch.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "dlrt.hpp"
#include "ir/error.h"
#include "ir/file_io.h"
#include "runtime/collectives/process_group.h"
#include "runtime/datasets.h"
#include "runtime/tool/commands.h"
#include "runtime/training/supervised_model.h"
#include "runtime/training/training_run.h"

namespace dlc {
namespace {

constexpr const char* kUsage =
    "usage: dlrun train MODEL.dlc --data DIR --epochs N [options]\n"
    "\n"
    "Trains MODEL (compiled with a training section) on the training set and\n"
    "evaluates it on the test set after every epoch. DIR holds the MNIST\n"
    "layout: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-\n"
    "idx3-ubyte, t10k-labels-idx1-ubyte, each raw or .gz. Pixels are scaled to\n"
    "[0,1]. Each epoch visits the training set in an order that depends only\n"
    "on the seed and the epoch, dropping the last partial batch.\n"
    "\n"
    "A model whose LABEL input is an integer is a classifier (test loss and\n"
    "accuracy); one whose LABEL input is a float learns real-valued targets\n"
    "(regression: test mean squared error and R^2, the validation loss being the\n"
    "mean squared error).\n"
    "\n"
    "options:\n"
    "  --epochs N            epochs to train (counting those of a resumed run)\n"
    "  --lr X                base learning rate (default: the model's)\n"
    "  --seed N              shuffle seed (default: the model's seed)\n"
    "  --schedule KIND       constant (default), step or cosine\n"
    "  --warmup N            linear warm-up over the first N updates\n"
    "  --step-every E        step schedule: multiply the rate by --gamma every E epochs (default 1)\n"
    "  --gamma G             step schedule factor (default 0.1)\n"
    "  --limit-train N       use only the first N training examples\n"
    "  --limit-test N        use only the first N test examples\n"
    "  --val-split F         hold out the last fraction F of the (once shuffled) training set\n"
    "  --patience P          with --val-split: stop after P epochs without a better validation\n"
    "                        loss and restore the best weights\n"
    "  --checkpoint FILE     save weights and optimizer state after every epoch (safetensors);\n"
    "                        with --patience also FILE.best, the best validation epoch's weights\n"
    "                        (checked writable before training; FILE.tmp.* files that an\n"
    "                        interrupted save left are removed)\n"
    "  --resume FILE         continue from a checkpoint written by --checkpoint\n"
    "  --save-weights FILE   after training, the model's weights alone (safetensors, no optimizer\n"
    "                        state): for a model imported from ONNX, PyTorch's state_dict tensors\n"
    "                        under their names, which load_state_dict takes\n"
    "  --metrics FILE        write a CSV row per epoch\n"
    "  --step-log FILE       write a CSV row per update: step, loss (the global batch's in a\n"
    "                        data-parallel run), after training\n"
    "  --plot FILE.svg       draw the per-update and per-epoch losses and the test accuracy (or R^2)\n"
    "                        as an SVG picture, redrawn after every epoch (dlrun plot redraws one\n"
    "                        from a --metrics CSV)\n"
    "  --json                print a one-line JSON summary instead of the final lines\n"
    "  --verify-fusion[=TOL] run the first train_step and predict kernel by kernel against the\n"
    "                        reference interpreter; stop at the first kernel off by more than TOL\n"
    "                        (|got - want| / max(|want|, 1), default 1e-4)\n"
    "  --train-x F --train-y F --test-x F --test-y F\n"
    "                        data from .npy or CSV files instead of --data (labels: one per row)\n"
    "\n"
    "Data-parallel training: `mpirun -np N dlrun train MODEL.dlc ...` with MODEL compiled by\n"
    "`dlc compile --data-parallel --batch B`: each step, each of the N processes trains on its\n"
    "B rows of one shuffled global batch of N x B rows and the processes average their\n"
    "gradients; process 0 prints and writes every file (docs/data-parallel.md).\n";

struct Options {
  std::string model, data, checkpoint, resume, metrics, plot, save_weights, step_log;
  std::string train_x, train_y, test_x, test_y;
  int64_t epochs = -1, limit_train = -1, limit_test = -1, patience = -1;
  bool has_lr = false, has_seed = false, json = false;
  double fusion_tolerance = 0;  // > 0: --verify-fusion
  double lr = 0, val_split = 0;
  uint64_t seed = 0;
  LrSchedule schedule;
};

/// Parses the command line; returns 0 to go on, -1 after --help, or 2.
int parse_options(int argc, char** argv, Options* o) {
  std::vector<Argument> args;
  if (int status = split_arguments(argc, argv,
                                   {"--data", "--epochs", "--lr", "--seed", "--limit-train", "--limit-test",
                                    "--checkpoint", "--resume", "--metrics", "--step-log", "--plot", "--save-weights", "--val-split", "--patience", "--schedule",
                                    "--warmup", "--step-every", "--gamma", "--train-x", "--train-y", "--test-x",
                                    "--test-y"},
                                   "train", kUsage, &args))
    return status;
  // A number out of range is a usage error like a missing one.
  try {
    for (const Argument& a : args) {
      const std::string &flag = a.flag, &value = a.value;
      if (flag == "--data") o->data = value;
      else if (flag == "--epochs") o->epochs = parse_int_option(flag, value, 1, kMaxEpochs);
      else if (flag == "--lr") o->lr = parse_real_option(flag, value, RealRange::positive()), o->has_lr = true;
      else if (flag == "--seed") o->seed = parse_seed_option(flag, value), o->has_seed = true;
      else if (flag == "--limit-train") o->limit_train = parse_int_option(flag, value, 1);
      else if (flag == "--limit-test") o->limit_test = parse_int_option(flag, value, 1);
      else if (flag == "--checkpoint") o->checkpoint = value;
      else if (flag == "--resume") o->resume = value;
      else if (flag == "--metrics") o->metrics = value;
      else if (flag == "--step-log") o->step_log = value;
      else if (flag == "--plot") o->plot = value;
      else if (flag == "--save-weights") o->save_weights = value;
      else if (flag == "--val-split") o->val_split = parse_real_option(flag, value, {0, false, 1, true});
      else if (flag == "--patience") o->patience = parse_int_option(flag, value, 1, kMaxEpochs);
      else if (flag == "--warmup") o->schedule.warmup = parse_int_option(flag, value, 0);
      else if (flag == "--step-every") o->schedule.step_every = parse_int_option(flag, value, 1, kMaxEpochs);
      else if (flag == "--gamma") o->schedule.gamma = parse_real_option(flag, value, RealRange::positive());
      else if (flag == "--train-x") o->train_x = value;
      else if (flag == "--train-y") o->train_y = value;
      else if (flag == "--test-x") o->test_x = value;
      else if (flag == "--test-y") o->test_y = value;
      else if (flag == "--schedule") {
        if (value == "constant") o->schedule.kind = LrSchedule::kConstant;
        else if (value == "step") o->schedule.kind = LrSchedule::kStep;
        else if (value == "cosine") o->schedule.kind = LrSchedule::kCosine;
        else return usage_error("train", "--schedule takes constant, step or cosine, not '" + value + "'", kUsage);
      } else if (flag == "--json") o->json = true;
      else if (flag == "--verify-fusion")
        o->fusion_tolerance =
            value.empty() ? kDefaultFusionTolerance : parse_real_option(flag, value, RealRange::positive());
      else if (a.is_option() || !o->model.empty()) return unexpected_argument("train", a, kUsage);
      else o->model = a.text;
    }
  } catch (const Error& e) {
    return usage_error("train", e.what(), "");
  }
  const char* problem = nullptr;
  if (o->model.empty()) problem = "needs MODEL.dlc";
  else if (o->epochs < 0) problem = "needs --epochs N";
  else if (o->patience >= 0 && o->val_split <= 0) problem = "--patience needs --val-split";
  if (problem) return usage_error("train", problem, kUsage);
  return 0;
}


}  // namespace

namespace {

int train(const Options& opt) {
  const auto run_start = std::chrono::steady_clock::now();
  const int launched = launched_process_count();
  dlrt::Model m(opt.model);
  if (launched > 1 && !m.data_parallel())
    throw Error(opt.model + ": this process is one of " + std::to_string(launched) +
                " started by mpirun, but the model was compiled without --data-parallel, so each would train "
                "alone; compile it with dlc compile --data-parallel");
  ProcessGroup* group = launched > 1 ? &ProcessGroup::get() : nullptr;
  const bool writer = !group || group->rank() == 0;
  if (opt.fusion_tolerance > 0) m.verify_fusion(opt.fusion_tolerance);
  SupervisedModel learner(m, opt.model, /*training=*/true);
  TrainingOptions run;
  run.epochs = opt.epochs;
  run.schedule = opt.schedule;
  run.schedule.base = opt.has_lr ? opt.lr : m.default_learning_rate();
  run.seed = opt.has_seed ? opt.seed : m.seed();
  run.val_split = opt.val_split;
  run.patience = opt.patience;
  run.checkpoint = opt.checkpoint;
  run.resume = opt.resume;
  run.metrics = opt.metrics;
  run.plot = opt.plot;
  run.print_fusion_report = opt.fusion_tolerance > 0;
  run.model_name = opt.model;
  run.group = group;

  const LabelKind labels = learner.label_kind();
  Dataset train =
      load_split(opt.data, "train", opt.train_x, opt.train_y, "--train-x/--train-y", opt.limit_train, labels);
  Dataset test = load_split(opt.data, "t10k", opt.test_x, opt.test_y, "--test-x/--test-y", opt.limit_test, labels);
  if (!opt.save_weights.empty() && writer) check_writable_atomically(opt.save_weights);
  if (!opt.step_log.empty() && writer) check_writable_atomically(opt.step_log);
  TrainingHistory h = run_training(m, learner, std::move(train), test, run);
  if (!writer) return 0;
  if (!opt.save_weights.empty()) m.save_weights(opt.save_weights);
  if (!opt.step_log.empty()) {
    std::string csv = "step,loss\n";
    for (size_t i = 0; i < h.step_losses.size(); ++i)
      csv += std::to_string(h.first_step + static_cast<int64_t>(i) + 1) + "," + metric_number(h.step_losses[i]) + "\n";
    write_file_atomic(opt.step_log, csv);
  }

  const EvalResult& result = h.final_test;
  const bool regression = h.task == Task::kRegression;
  double train_loss = h.epochs.empty() ? NAN : h.epochs.back().train_loss;
  double samples_per_s = h.train_seconds > 0 ? static_cast<double>(h.trained_samples) / h.train_seconds : 0;
  auto json_number = [](double v) { return std::isfinite(v) ? metric_number(v) : std::string("null"); };
  if (opt.json) {
    std::string scores = regression ? "\"test_loss\":" + json_number(result.loss) + ",\"test_mse\":" +
                                          json_number(result.mse) + ",\"test_r2\":" + json_number(result.r2)
                                    : "\"test_loss\":" + json_number(result.loss) +
                                          ",\"test_accuracy\":" + json_number(result.accuracy);
    // seconds: the whole run (data loading and evaluation included);
    // train_seconds: the training steps of the epochs alone.
    // A data-parallel run adds its process count and what its collectives
    // cost per update: seconds (waiting for the others included) and bytes sent.
    std::string collectives;
    if (group) {
      const double steps = static_cast<double>(std::max<int64_t>(1, static_cast<int64_t>(h.step_losses.size())));
      collectives = ",\"processes\":" + std::to_string(group->size()) + ",\"all_reduce_s_per_step\":" +
                    metric_number(group->reduce_seconds() / steps) + ",\"all_reduce_bytes_per_step\":" +
                    metric_number(static_cast<double>(group->reduced_bytes()) / steps);
    }
    std::printf("{\"train_loss\":%s,%s,\"samples_per_s\":%s,\"seconds\":%s,\"train_seconds\":%s,\"epochs\":%lld%s}\n",
                json_number(train_loss).c_str(), scores.c_str(), metric_number(samples_per_s).c_str(), metric_number(std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count()).c_str(),
                metric_number(h.train_seconds).c_str(), static_cast<long long>(h.epochs_done), collectives.c_str());
  } else if (regression) {
    std::printf("test mse: %.6g\ntest r2: %.6f\n", result.mse, result.r2);
  } else {
    std::printf("test accuracy: %.4f\ntest loss: %.4f\n", result.accuracy, result.loss);
  }
  return 0;
}

}  // namespace

int cmd_train(int argc, char** argv) {
  Options opt;
  if (int status = parse_options(argc, argv, &opt); status != 0) return status < 0 ? 0 : status;
  try {
    return train(opt);
  } catch (const std::exception& e) {
    // One of several processes: the others would wait for this one in
    // their next collective, so the error ends them all, here and now.
    if (launched_process_count() > 1) {
      // Named by the launcher's rank: the group may be what failed.
      const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
      if (!rank) rank = std::getenv("PMI_RANK");
      std::fprintf(stderr, "dlrun train: process %s: error: %s\n", rank ? rank : "?", e.what());
      std::fflush(stderr);
      try {
        ProcessGroup::get().abort_all(1);
      } catch (const std::exception&) {
      }
      return 1;
    }
    throw;
  }
}

}  // namespace dlc
