#include "runtime/training/training_run.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "ir/error.h"
#include "ir/file_io.h"
#include "runtime/collectives/process_group.h"
#include "runtime/training/resume_state.h"
#include "runtime/training/training_plot.h"

namespace dlc {
namespace {

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

/// Makes every process's persistent tensors process 0's.
void share_state(dlrt::Model& m, ProcessGroup& group) {
  Snapshot s;
  s.take(m);
  for (auto& v : s.values) group.broadcast(v.data(), static_cast<int64_t>(v.size()), 0);
  s.restore(m);
}

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


/// The plot's title: the model's file name.
std::string plot_title(const TrainingOptions& opt) {
  return opt.model_name.empty() ? std::string("training") : opt.model_name;
}

}  // namespace

std::string metric_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

TrainingHistory run_training(dlrt::Model& m, SupervisedModel& learner, Dataset train, const Dataset& test,
                             TrainingOptions opt) {
  const auto run_start = Clock::now();
  ProcessGroup* group = opt.group && opt.group->size() > 1 ? opt.group : nullptr;
  const int64_t ranks = group ? group->size() : 1, rank = group ? group->rank() : 0;
  // Process 0 alone writes files and prints.
  const bool writer = rank == 0;
  if (!writer) opt.progress = false;
  if (!opt.checkpoint.empty() && writer) {
    prepare_output(opt.checkpoint);
    if (opt.patience >= 0) prepare_output(best_weights_path(opt.checkpoint));
  }
  if (!opt.plot.empty() && writer) prepare_output(opt.plot);
  if (opt.patience >= 0 && opt.val_split <= 0) throw Error("patience needs a validation split (val_split > 0)");
  const int64_t batch = learner.batch();
  const uint64_t seed = opt.seed;
  const std::string& name = opt.model_name;

  // Everything is read and checked before the first update.
  learner.check(train);
  learner.check(test);
  Dataset val;
  if (opt.val_split > 0) {
    // Shuffled once with the seed, so the held-out rows are not one class.
    std::vector<int64_t> order = shuffled_indices(train.rows, seed);
    size_t keep = static_cast<size_t>(std::llround(static_cast<double>(train.rows) * (1 - opt.val_split)));
    val = take_rows(train, order, keep, order.size());
    train = take_rows(train, order, 0, keep);
    if (val.rows == 0) throw Error("--val-split " + metric_number(opt.val_split) + " holds out no examples");
  }
  // One step trains on `ranks` batches, one per process.
  const int64_t batches = train.rows / (batch * ranks);
  if (batches == 0)
    throw Error(train.x_source + ": " + std::to_string(train.rows) + " training examples, fewer than one batch of " +
                std::to_string(batch * ranks) + (ranks > 1 ? " (" + std::to_string(ranks) + " processes x " +
                                                             std::to_string(batch) + ")" : std::string()));
  opt.schedule.total_steps = batches * opt.epochs;

  TrainingHistory h;
  h.task = learner.task();
  h.steps_per_epoch = batches;
  int64_t first_epoch = 0, step = 0;
  ResumeState resumed;
  if (!opt.resume.empty()) {
    resumed = parse_resume_state(m.load_checkpoint(opt.resume), opt.resume);
    first_epoch = resumed.epoch;
    step = resumed.step;
    if (resumed.stopped_early) first_epoch = std::max(first_epoch, opt.epochs);  // it ended there
  }
  h.first_epoch = first_epoch;
  h.first_step = step;

  const bool regression = learner.task() == Task::kRegression;
  // The two metrics of an evaluation in the CSV: loss and accuracy, or mean
  // squared error and R^2.
  auto metric_pair = [&](const EvalResult& r) {
    return regression ? metric_number(r.mse) + "," + metric_number(r.r2) : metric_number(r.loss) + "," + metric_number(r.accuracy);
  };
  std::FILE* metrics = nullptr;
  if (!opt.metrics.empty() && writer) {
    metrics = std::fopen(opt.metrics.c_str(), "w");
    if (!metrics) throw Error(opt.metrics + ": cannot write");
    if (regression)
      std::fprintf(metrics, "epoch,train_loss,test_mse,test_r2,seconds%s\n",
                   opt.val_split > 0 ? ",val_mse,val_r2" : "");
    else
      std::fprintf(metrics, "epoch,train_loss,test_loss,test_accuracy,seconds%s\n",
                   opt.val_split > 0 ? ",val_loss,val_accuracy" : "");
  }
  // Closes the CSV however the run ends.
  struct CloseFile {
    std::FILE*& f;
    ~CloseFile() {
      if (f) std::fclose(f);
    }
  } close_metrics{metrics};

  Progress progress(opt.epochs, batches, batch * ranks);
  double best_val = INFINITY;
  int64_t bad_epochs = 0, best_epoch = -1;
  h.epochs_done = first_epoch;
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
      if (!opt.checkpoint.empty() && opt.checkpoint != opt.resume && writer)  // the new checkpoint needs its own
        m.save_checkpoint(best_weights_path(opt.checkpoint), {{"epoch", std::to_string(best_epoch)}});
      m.load_checkpoint(opt.resume);
    }
  }
  // Whatever each process loaded (or was initialized with), all train on
  // process 0's weights from here.
  if (group) share_state(m, *group);
  // The state after `epochs` epochs, with what resuming needs to go on.
  auto save_checkpoint = [&](int64_t epochs, bool stopped_early) {
    if (!writer) return;
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
  bool evaluated = false;
  for (int64_t e = first_epoch; e < opt.epochs; ++e) {
    const auto epoch_start = Clock::now();
    std::vector<int64_t> order = shuffled_indices(train.rows, epoch_seed(seed, e));
    if (opt.progress) progress.start_epoch(e);
    double loss_sum = 0;
    for (int64_t b = 0; b < batches; ++b) {
      ++step;
      double loss = learner.train_step(train, order.data() + (b * ranks + rank) * batch, opt.schedule.at(step, e), step);
      if (!std::isfinite(loss))
        throw Error(name + ": the loss became " + metric_number(loss) + " at update " + std::to_string(step) + " (epoch " +
                    std::to_string(e + 1) + "); try a smaller --lr");
      loss_sum += loss;
      h.step_losses.push_back(loss);
      if (opt.progress) progress.update(b + 1, loss_sum / static_cast<double>(b + 1));
      if (opt.after_step) opt.after_step();
    }
    h.train_seconds += seconds_since(epoch_start);
    h.trained_samples += batches * batch * ranks;
    EpochRecord rec;
    rec.epoch = e + 1;
    rec.train_loss = loss_sum / static_cast<double>(batches);
    h.epochs_done = e + 1;

    rec.test = learner.evaluate(test, group);
    h.final_test = rec.test;
    if (opt.print_fusion_report && !evaluated && writer) std::fprintf(stderr, "%s\n", m.fusion_report().c_str());
    evaluated = true;
    std::string val_text;
    if (opt.val_split > 0) {
      rec.has_val = true;
      rec.val = learner.evaluate(val, group);
      val_text = ", " + metrics_text(rec.val, "val");
    }
    rec.seconds = seconds_since(epoch_start);
    // A regression's loss shrinks towards the noise, far below 1e-4.
    if (opt.progress)
      std::fprintf(stderr, regression ? "epoch %lld/%lld: train loss %.6g, %s%s (%.1f s)\n"
                                      : "epoch %lld/%lld: train loss %.4f, %s%s (%.1f s)\n",
                   static_cast<long long>(e + 1), static_cast<long long>(opt.epochs), rec.train_loss,
                   metrics_text(rec.test, "test").c_str(), val_text.c_str(), rec.seconds);
    if (metrics) {
      std::fprintf(metrics, "%lld,%s,%s,%s", static_cast<long long>(e + 1), metric_number(rec.train_loss).c_str(),
                   metric_pair(rec.test).c_str(), metric_number(rec.seconds).c_str());
      if (opt.val_split > 0) std::fprintf(metrics, ",%s", metric_pair(rec.val).c_str());
      std::fputc('\n', metrics);
      std::fflush(metrics);
    }
    h.epochs.push_back(rec);
    bool stop = false;
    if (opt.val_split > 0) {
      if (rec.val.loss < best_val) {
        best_val = rec.val.loss;
        best_epoch = e + 1;
        bad_epochs = 0;
        if (opt.patience >= 0) best.take(m);
        if (opt.patience >= 0 && !opt.checkpoint.empty() && writer)
          m.save_checkpoint(best_weights_path(opt.checkpoint), {{"epoch", std::to_string(e + 1)}});
      } else {
        ++bad_epochs;
        stop = opt.patience >= 0 && bad_epochs >= opt.patience;
      }
    }
    if (!opt.checkpoint.empty()) save_checkpoint(e + 1, false);
    h.best_epoch = best_epoch;
    // Redrawn after every epoch, so a long run can be watched as it goes.
    if (!opt.plot.empty() && !stop && writer) write_training_plot(h, opt.plot, plot_title(opt));
    if (stop) {
      best.restore(m);
      // The run's result is the restored weights; resuming it trains no more.
      if (!opt.checkpoint.empty()) save_checkpoint(e + 1, true);
      h.final_test = learner.evaluate(test, group);
      h.stopped_early = true;
      if (opt.progress)
        std::fprintf(stderr,
                     "early stop: no better validation loss for %lld epochs; restored the weights of epoch %lld\n",
                     static_cast<long long>(bad_epochs), static_cast<long long>(best_epoch));
      break;
    }
  }
  if (!evaluated) h.final_test = learner.evaluate(test, group);  // a resumed run with nothing left to train
  h.best_epoch = best_epoch;
  if (!opt.plot.empty() && writer) write_training_plot(h, opt.plot, plot_title(opt));  // with the early stop marked
  h.seconds = seconds_since(run_start);
  return h;
}

}  // namespace dlc
