// dlc._native.fit: the training loop of `dlrun train` (run_training) on
// NumPy arrays, so dlc.fit and `dlrun train` with the same data and seed
// give the same weights.
#include <cmath>
#include <string>

#include "ir/error.h"
#include "python/bindings/bindings.h"
#include "runtime/training/training_run.h"
#include <pybind11/stl.h>

namespace dlc::python {
namespace {

using FloatRows = py::array_t<float, py::array::c_style | py::array::forcecast>;
using Labels = py::array_t<double, py::array::c_style | py::array::forcecast>;

/// `x` (rows x features...) and `y` (one label per row) as a Dataset;
/// `name` ("train", "test") names them in errors.
Dataset to_dataset(const FloatRows& x, const Labels& y, const std::string& name, LabelKind kind) {
  Dataset d;
  d.x_source = name + " inputs";
  d.y_source = name + " labels";
  d.label_kind = kind;
  if (x.ndim() < 2) throw Error(d.x_source + ": need an array of rows [N, features...], got " + std::to_string(x.ndim()) + " dimension(s)");
  d.rows = x.shape(0);
  d.sample_dims.assign(x.shape() + 1, x.shape() + x.ndim());
  if (y.size() != d.rows)
    throw Error(d.y_source + ": " + std::to_string(y.size()) + " labels for " + std::to_string(d.rows) + " rows");
  d.x.assign(x.data(), x.data() + x.size());
  d.y.assign(y.data(), y.data() + y.size());
  for (int64_t r = 0; r < d.rows; ++r) {
    double v = d.y[static_cast<size_t>(r)];
    if (!std::isfinite(v) || (kind == LabelKind::kClassIndex && v != std::floor(v)))
      throw Error(d.y_source + ": row " + std::to_string(r) + " has label " + std::to_string(v) +
                  (kind == LabelKind::kClassIndex ? ", not a class index" : ", not a finite number"));
  }
  return d;
}

py::dict eval_dict(const EvalResult& r) {
  py::dict d;
  if (r.task == Task::kClassification) {
    d["loss"] = r.loss;
    d["accuracy"] = r.accuracy;
  } else {
    d["mse"] = r.mse;
    d["r2"] = r.r2;
  }
  d["rows"] = r.rows;
  return d;
}

template <typename T>
T option(const py::dict& o, const char* key, T fallback) {
  return o.contains(key) && !o[key].is_none() ? o[key].cast<T>() : fallback;
}

}  // namespace

void bind_training(py::module_& m) {
  m.def("fit", [](const py::object& runtime, const FloatRows& train_x, const Labels& train_y, const FloatRows& test_x,
                  const Labels& test_y, const py::dict& o) {
    dlrt::Model& model = runtime_model(runtime);
    const std::string& name = runtime_name(runtime);
    double tolerance = option<double>(o, "verify_fusion", 0);
    if (tolerance > 0) model.verify_fusion(tolerance);
    SupervisedModel learner(model, name, /*training=*/true);
    TrainingOptions run;
    run.model_name = name;
    run.epochs = option<int64_t>(o, "epochs", 1);
    if (run.epochs < 1) throw Error("epochs must be at least 1, not " + std::to_string(run.epochs));
    run.schedule.base = option<double>(o, "lr", model.default_learning_rate());
    if (!(run.schedule.base > 0)) throw Error("lr must be a positive number");
    std::string schedule = option<std::string>(o, "schedule", "constant");
    if (schedule == "constant") run.schedule.kind = LrSchedule::kConstant;
    else if (schedule == "step") run.schedule.kind = LrSchedule::kStep;
    else if (schedule == "cosine") run.schedule.kind = LrSchedule::kCosine;
    else throw Error("schedule takes 'constant', 'step' or 'cosine', not '" + schedule + "'");
    run.schedule.warmup = option<int64_t>(o, "warmup", 0);
    run.schedule.step_every = option<int64_t>(o, "step_every", 1);
    run.schedule.gamma = option<double>(o, "gamma", 0.1);
    if (run.schedule.warmup < 0 || run.schedule.step_every < 1 || !(run.schedule.gamma > 0))
      throw Error("warmup must be >= 0, step_every >= 1 and gamma > 0");
    run.seed = option<uint64_t>(o, "seed", model.seed());
    run.val_split = option<double>(o, "val_split", 0);
    if (!(run.val_split >= 0 && run.val_split < 1)) throw Error("val_split must be in [0, 1)");
    run.patience = option<int64_t>(o, "patience", -1);
    run.checkpoint = option<std::string>(o, "checkpoint", "");
    run.resume = option<std::string>(o, "resume", "");
    run.metrics = option<std::string>(o, "metrics", "");
    run.plot = option<std::string>(o, "plot", "");
    run.progress = option<bool>(o, "progress", true);
    run.print_fusion_report = tolerance > 0;
    // Ctrl-C ends the run between two updates, as KeyboardInterrupt.
    run.after_step = [] {
      py::gil_scoped_acquire locked;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    };
    Dataset train = to_dataset(train_x, train_y, "train", learner.label_kind());
    Dataset test = to_dataset(test_x, test_y, "test", learner.label_kind());

    TrainingHistory h;
    {
      py::gil_scoped_release unlocked;
      h = run_training(model, learner, std::move(train), test, run);
    }
    py::dict out;
    out["task"] = h.task == Task::kClassification ? "classification" : "regression";
    out["steps_per_epoch"] = h.steps_per_epoch;
    out["first_step"] = h.first_step;
    out["step_losses"] = py::array(py::cast(h.step_losses));
    py::list epochs;
    for (const EpochRecord& e : h.epochs) {
      py::dict d;
      d["epoch"] = e.epoch;
      d["train_loss"] = e.train_loss;
      d["test"] = eval_dict(e.test);
      if (e.has_val) d["val"] = eval_dict(e.val);
      d["seconds"] = e.seconds;
      epochs.append(d);
    }
    out["epochs"] = epochs;
    out["test"] = eval_dict(h.final_test);
    out["stopped_early"] = h.stopped_early;
    out["best_epoch"] = h.best_epoch;
    out["epochs_done"] = h.epochs_done;
    out["seconds"] = h.seconds;
    out["train_seconds"] = h.train_seconds;
    out["trained_samples"] = h.trained_samples;
    return out;
  });
}

}  // namespace dlc::python
