// `dlrun train MODEL.dlc --data DIR --epochs N`: trains a compiled
// classifier or regressor (by its LABEL input's dtype) through the C API's
// train_step entry point and evaluates it with predict after every epoch.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "dlrt.hpp"
#include "ir/error.h"
#include "ir/file_io.h"
#include "runtime/datasets.h"
#include "runtime/tool/commands.h"
#include "runtime/tool/resume_state.h"
#include "runtime/tool/train_loop.h"

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
    "  --metrics FILE        write a CSV row per epoch\n"
    "  --json                print a one-line JSON summary instead of the final lines\n"
    "  --verify-fusion[=TOL] run the first train_step and predict kernel by kernel against the\n"
    "                        reference interpreter; stop at the first kernel off by more than TOL\n"
    "                        (|got - want| / max(|want|, 1), default 1e-4)\n"
    "  --train-x F --train-y F --test-x F --test-y F\n"
    "                        data from .npy or CSV files instead of --data (labels: one per row)\n";

struct Options {
  std::string model, data, checkpoint, resume, metrics;
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
                                    "--checkpoint", "--resume", "--metrics", "--val-split", "--patience", "--schedule",
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

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// The shuffle seed of epoch `e`: a function of the run's seed and `e`
/// only, so a resumed run visits the same order as an uninterrupted one.
uint64_t epoch_seed(uint64_t seed, int64_t e) { return seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(e) + 1; }

/// Rows `order` of `d` as a new dataset.
Dataset take_rows(const Dataset& d, const std::vector<int64_t>& order, size_t begin, size_t end) {
  Dataset out;
  out.sample_dims = d.sample_dims;
  out.x_source = d.x_source;
  out.y_source = d.y_source;
  out.label_kind = d.label_kind;
  const int64_t f = d.features();
  for (size_t i = begin; i < end; ++i) {
    int64_t r = order[i];
    out.x.insert(out.x.end(), d.x.begin() + r * f, d.x.begin() + (r + 1) * f);
    out.y.push_back(d.y[static_cast<size_t>(r)]);
  }
  out.rows = static_cast<int64_t>(end - begin);
  return out;
}

/// Training progress on stderr: a redrawn bar on a terminal, a plain line
/// every ~10% of an epoch otherwise (logs, CI).
class Progress {
 public:
  Progress(int64_t epochs, int64_t batches, int64_t batch)
      : tty_(isatty(fileno(stderr)) != 0), epochs_(epochs), batches_(batches), batch_(batch) {}

  void start_epoch(int64_t epoch) {
    epoch_ = epoch;
    start_ = last_draw_ = Clock::now();
    next_line_ = 1;
  }
  void update(int64_t done, double mean_loss) {
    double secs = seconds_since(start_);
    double rate = secs > 0 ? static_cast<double>(done * batch_) / secs : 0;
    if (tty_) {
      if (done != batches_ && std::chrono::duration<double>(Clock::now() - last_draw_).count() < 0.1) return;
      last_draw_ = Clock::now();
      const int width = 30;
      int filled = static_cast<int>(width * done / batches_);
      double eta = done > 0 ? secs * static_cast<double>(batches_ - done) / static_cast<double>(done) : 0;
      std::fprintf(stderr, "\repoch %lld/%lld [%s%s] %3d%% loss %.4f %.0f samples/s ETA %.0fs ",
                   static_cast<long long>(epoch_ + 1), static_cast<long long>(epochs_),
                   std::string(static_cast<size_t>(filled), '=').c_str(),
                   std::string(static_cast<size_t>(width - filled), ' ').c_str(),
                   static_cast<int>(100 * done / batches_), mean_loss, rate, eta);
      if (done == batches_) std::fputc('\n', stderr);
    } else if (done * 10 >= next_line_ * batches_ && done < batches_) {
      while (done * 10 >= next_line_ * batches_) ++next_line_;
      std::fprintf(stderr, "epoch %lld/%lld %3d%% loss %.4f %.0f samples/s\n", static_cast<long long>(epoch_ + 1),
                   static_cast<long long>(epochs_), static_cast<int>(100 * done / batches_), mean_loss, rate);
    }
    std::fflush(stderr);
  }

 private:
  bool tty_;
  int64_t epochs_, batches_, batch_, epoch_ = 0, next_line_ = 1;
  Clock::time_point start_, last_draw_;
};

/// A copy of every persistent tensor, to restore the best weights.
struct Snapshot {
  std::vector<std::vector<uint8_t>> values;

  void take(const dlrt::Model& m) {
    auto params = m.params();
    values.resize(params.size());
    for (size_t k = 0; k < params.size(); ++k) {
      values[k].resize(static_cast<size_t>(params[k].numel) * dlrt_dtype_size(params[k].dtype));
      m.get_param(params[k].name, params[k].dtype, values[k].data(), params[k].numel);
    }
  }
  void restore(dlrt::Model& m) const {
    auto params = m.params();
    for (size_t k = 0; k < params.size(); ++k)
      m.set_param(params[k].name, params[k].dtype, values[k].data(), params[k].numel);
  }
};

/// Where --checkpoint FILE keeps the weights of the best validation epoch
/// (with --patience), so a resumed run can still restore them.
std::string best_weights_path(const std::string& checkpoint) { return checkpoint + ".best"; }

/// Readies a file the run will save after every epoch: removes what a killed
/// run left of earlier saves (PATH.tmp.*, which nothing else cleans), and
/// checks that it can be written, so a bad path stops the run before the
/// first epoch rather than after it.
void prepare_output(const std::string& path) {
  for (const std::string& stale : remove_stale_temporaries(path))
    std::fprintf(stderr, "removed %s, left by an interrupted save\n", stale.c_str());
  check_writable_atomically(path);
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

int cmd_train(int argc, char** argv) {
  Options opt;
  if (int status = parse_options(argc, argv, &opt); status != 0) return status < 0 ? 0 : status;
  const auto run_start = Clock::now();
  if (!opt.checkpoint.empty()) {
    prepare_output(opt.checkpoint);
    if (opt.patience >= 0) prepare_output(best_weights_path(opt.checkpoint));
  }

  dlrt::Model m(opt.model);
  if (opt.fusion_tolerance > 0) m.verify_fusion(opt.fusion_tolerance);
  SupervisedModel learner(m, opt.model, /*training=*/true);
  const int64_t batch = learner.batch();
  const uint64_t seed = opt.has_seed ? opt.seed : m.seed();
  opt.schedule.base = opt.has_lr ? opt.lr : m.default_learning_rate();

  // Everything is read and checked before the first update.
  const LabelKind labels = learner.label_kind();
  Dataset train =
      load_split(opt.data, "train", opt.train_x, opt.train_y, "--train-x/--train-y", opt.limit_train, labels);
  Dataset test = load_split(opt.data, "t10k", opt.test_x, opt.test_y, "--test-x/--test-y", opt.limit_test, labels);
  learner.check(train);
  learner.check(test);
  Dataset val;
  if (opt.val_split > 0) {
    // Shuffled once with the seed, so the held-out rows are not one class.
    std::vector<int64_t> order = shuffled_indices(train.rows, seed);
    size_t keep = static_cast<size_t>(std::llround(static_cast<double>(train.rows) * (1 - opt.val_split)));
    val = take_rows(train, order, keep, order.size());
    train = take_rows(train, order, 0, keep);
    if (val.rows == 0) throw Error("--val-split " + fmt(opt.val_split) + " holds out no examples");
  }
  const int64_t batches = train.rows / batch;
  if (batches == 0)
    throw Error(train.x_source + ": " + std::to_string(train.rows) + " training examples, fewer than one batch of " +
                std::to_string(batch));
  opt.schedule.total_steps = batches * opt.epochs;

  int64_t first_epoch = 0, step = 0;
  ResumeState resumed;
  if (!opt.resume.empty()) {
    resumed = parse_resume_state(m.load_checkpoint(opt.resume), opt.resume);
    first_epoch = resumed.epoch;
    step = resumed.step;
    if (resumed.stopped_early) first_epoch = std::max(first_epoch, opt.epochs);  // it ended there
  }

  const bool regression = learner.task() == Task::kRegression;
  // The two metrics of an evaluation in the CSV and JSON: loss and accuracy,
  // or mean squared error and R^2.
  auto metric_pair = [&](const EvalResult& r) {
    return regression ? fmt(r.mse) + "," + fmt(r.r2) : fmt(r.loss) + "," + fmt(r.accuracy);
  };
  std::FILE* metrics = nullptr;
  if (!opt.metrics.empty()) {
    metrics = std::fopen(opt.metrics.c_str(), "w");
    if (!metrics) throw Error(opt.metrics + ": cannot write");
    if (regression)
      std::fprintf(metrics, "epoch,train_loss,test_mse,test_r2,seconds%s\n",
                   opt.val_split > 0 ? ",val_mse,val_r2" : "");
    else
      std::fprintf(metrics, "epoch,train_loss,test_loss,test_accuracy,seconds%s\n",
                   opt.val_split > 0 ? ",val_loss,val_accuracy" : "");
  }

  Progress progress(opt.epochs, batches, batch);
  double train_loss = NAN, train_seconds = 0, best_val = INFINITY;
  int64_t trained_samples = 0, bad_epochs = 0, best_epoch = -1, epochs_done = first_epoch;
  Snapshot best;
  if (opt.val_split > 0 && resumed.has_best) {
    // Early stopping goes on where it was: the best loss, its epoch, the
    // epochs since, and (with --patience) that epoch's weights.
    best_val = resumed.best_val_loss;
    best_epoch = resumed.best_epoch;
    bad_epochs = resumed.bad_epochs;
    if (opt.patience >= 0 && best_epoch > 0) {
      if (!std::ifstream(best_weights_path(opt.resume)))
        throw Error(opt.resume + ": resuming --patience needs " + best_weights_path(opt.resume) +
                    ", the best epoch's weights, which a run with --patience and --checkpoint writes");
      m.load_checkpoint(best_weights_path(opt.resume));
      best.take(m);
      if (!opt.checkpoint.empty() && opt.checkpoint != opt.resume)  // the new checkpoint needs its own
        m.save_checkpoint(best_weights_path(opt.checkpoint), {{"epoch", std::to_string(best_epoch)}});
      m.load_checkpoint(opt.resume);
    }
  }
  // The state after `epochs` epochs, with what resuming needs to go on.
  auto save_checkpoint = [&](int64_t epochs, bool stopped_early) {
    ResumeState state;
    state.epoch = epochs;
    state.step = step;
    state.seed = seed;
    state.stopped_early = stopped_early;
    state.has_best = opt.val_split > 0;
    state.best_val_loss = best_val;
    state.best_epoch = best_epoch;
    state.bad_epochs = bad_epochs;
    m.save_checkpoint(opt.checkpoint, resume_metadata(state));
  };
  EvalResult result;
  bool evaluated = false;
  for (int64_t e = first_epoch; e < opt.epochs; ++e) {
    const auto epoch_start = Clock::now();
    std::vector<int64_t> order = shuffled_indices(train.rows, epoch_seed(seed, e));
    progress.start_epoch(e);
    double loss_sum = 0;
    for (int64_t b = 0; b < batches; ++b) {
      ++step;
      double loss = learner.train_step(train, order.data() + b * batch, opt.schedule.at(step, e), step);
      if (!std::isfinite(loss))
        throw Error(opt.model + ": the loss became " + fmt(loss) + " at update " + std::to_string(step) +
                    " (epoch " + std::to_string(e + 1) + "); try a smaller --lr");
      loss_sum += loss;
      progress.update(b + 1, loss_sum / static_cast<double>(b + 1));
    }
    train_seconds += seconds_since(epoch_start);
    trained_samples += batches * batch;
    train_loss = loss_sum / static_cast<double>(batches);
    epochs_done = e + 1;

    result = learner.evaluate(test);
    if (opt.fusion_tolerance > 0 && !evaluated) std::fprintf(stderr, "%s\n", m.fusion_report().c_str());
    evaluated = true;
    std::string val_text;
    EvalResult vres;
    if (opt.val_split > 0) {
      vres = learner.evaluate(val);
      val_text = ", " + metrics_text(vres, "val");
    }
    double epoch_seconds = seconds_since(epoch_start);
    // A regression's loss shrinks towards the noise, far below 1e-4.
    std::fprintf(stderr, regression ? "epoch %lld/%lld: train loss %.6g, %s%s (%.1f s)\n"
                                    : "epoch %lld/%lld: train loss %.4f, %s%s (%.1f s)\n",
                 static_cast<long long>(e + 1), static_cast<long long>(opt.epochs), train_loss,
                 metrics_text(result, "test").c_str(), val_text.c_str(), epoch_seconds);
    if (metrics) {
      std::fprintf(metrics, "%lld,%s,%s,%s", static_cast<long long>(e + 1), fmt(train_loss).c_str(),
                   metric_pair(result).c_str(), fmt(epoch_seconds).c_str());
      if (opt.val_split > 0) std::fprintf(metrics, ",%s", metric_pair(vres).c_str());
      std::fputc('\n', metrics);
      std::fflush(metrics);
    }
    bool stop = false;
    if (opt.val_split > 0) {
      if (vres.loss < best_val) {
        best_val = vres.loss;
        best_epoch = e + 1;
        bad_epochs = 0;
        if (opt.patience >= 0) best.take(m);
        if (opt.patience >= 0 && !opt.checkpoint.empty())
          m.save_checkpoint(best_weights_path(opt.checkpoint), {{"epoch", std::to_string(e + 1)}});
      } else {
        ++bad_epochs;
        stop = opt.patience >= 0 && bad_epochs >= opt.patience;
      }
    }
    if (!opt.checkpoint.empty()) save_checkpoint(e + 1, false);
    if (opt.val_split > 0) {
      if (stop) {
        best.restore(m);
        // The run's result is the restored weights; resuming it trains no more.
        if (!opt.checkpoint.empty()) save_checkpoint(e + 1, true);
        result = learner.evaluate(test);
        std::fprintf(stderr,
                     "early stop: no better validation loss for %lld epochs; restored the weights of epoch %lld\n",
                     static_cast<long long>(bad_epochs), static_cast<long long>(best_epoch));
        break;
      }
    }
  }
  if (metrics) std::fclose(metrics);
  if (!evaluated) result = learner.evaluate(test);  // a resumed run with nothing left to train

  double seconds = seconds_since(run_start);
  double samples_per_s = train_seconds > 0 ? static_cast<double>(trained_samples) / train_seconds : 0;
  auto json_number = [](double v) { return std::isfinite(v) ? fmt(v) : std::string("null"); };
  if (opt.json) {
    std::string scores = regression ? "\"test_loss\":" + json_number(result.loss) + ",\"test_mse\":" +
                                          json_number(result.mse) + ",\"test_r2\":" + json_number(result.r2)
                                    : "\"test_loss\":" + json_number(result.loss) +
                                          ",\"test_accuracy\":" + json_number(result.accuracy);
    // seconds: the whole run (data loading and evaluation included);
    // train_seconds: the training steps of the epochs alone.
    std::printf("{\"train_loss\":%s,%s,\"samples_per_s\":%s,\"seconds\":%s,\"train_seconds\":%s,\"epochs\":%lld}\n",
                json_number(train_loss).c_str(), scores.c_str(), fmt(samples_per_s).c_str(), fmt(seconds).c_str(),
                fmt(train_seconds).c_str(), static_cast<long long>(epochs_done));
  } else if (regression) {
    std::printf("test mse: %.6g\ntest r2: %.6f\n", result.mse, result.r2);
  } else {
    std::printf("test accuracy: %.4f\ntest loss: %.4f\n", result.accuracy, result.loss);
  }
  return 0;
}

}  // namespace dlc
