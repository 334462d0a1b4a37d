// `dlrun eval MODEL.dlc --data DIR [--weights CKPT]`: test loss, accuracy
// and confusion matrix of a compiled classifier, or the mean squared error
// and R^2 of a regressor (a model whose LABEL input is a float).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "dlrt.hpp"
#include "ir/error.h"
#include "runtime/datasets.h"
#include "runtime/tool/commands.h"
#include "runtime/training/supervised_model.h"

namespace dlc {
namespace {

constexpr const char* kUsage =
    "usage: dlrun eval MODEL.dlc --data DIR [--weights CHECKPOINT] [options]\n"
    "\n"
    "Runs MODEL's predict entry point on the test set (t10k-images-idx3-ubyte\n"
    "and t10k-labels-idx1-ubyte in DIR, raw or .gz) and prints the test loss\n"
    "(cross-entropy of the predicted probabilities), the accuracy and the\n"
    "confusion matrix (rows: true class, columns: predicted class). For a\n"
    "model whose LABEL input is a float (regression) it prints the mean\n"
    "squared error and R^2 of the predictions instead.\n"
    "\n"
    "options:\n"
    "  --weights FILE        trained weights (a checkpoint from dlrun train)\n"
    "  --limit-test N        use only the first N test examples\n"
    "  --test-x F --test-y F test data from .npy or CSV files instead of --data\n"
    "  --json                print {\"test_loss\":..,\"test_accuracy\":..,\"confusion\":[[..]]}\n"
    "                        (regression: {\"test_loss\":..,\"test_mse\":..,\"test_r2\":..,\"rows\":..})\n";

struct Options {
  std::string model, data, weights, test_x, test_y;
  int64_t limit_test = -1;
  bool json = false;
};

int parse_options(int argc, char** argv, Options* o) {
  std::vector<Argument> args;
  if (int status = split_arguments(argc, argv, {"--data", "--weights", "--test-x", "--test-y", "--limit-test"}, "eval",
                                   kUsage, &args))
    return status;
  try {  // a bad number is a usage error
    for (const Argument& a : args) {
      const std::string &flag = a.flag, &value = a.value;
      if (flag == "--data") o->data = value;
      else if (flag == "--weights") o->weights = value;
      else if (flag == "--test-x") o->test_x = value;
      else if (flag == "--test-y") o->test_y = value;
      else if (flag == "--limit-test") o->limit_test = parse_int_option(flag, value, 1);
      else if (flag == "--json") o->json = true;
      else if (a.is_option() || !o->model.empty()) return unexpected_argument("eval", a, kUsage);
      else o->model = a.text;
    }
  } catch (const Error& e) {
    return usage_error("eval", e.what(), "");
  }
  if (o->model.empty()) return usage_error("eval", "needs MODEL.dlc", kUsage);
  return 0;
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  Options opt;
  if (int status = parse_options(argc, argv, &opt); status != 0) return status < 0 ? 0 : status;
  dlrt::Model m(opt.model);
  SupervisedModel learner(m, opt.model, /*training=*/false);
  Dataset test = load_split(opt.data, "t10k", opt.test_x, opt.test_y, "--test-x/--test-y", opt.limit_test,
                            learner.label_kind());
  learner.check(test);
  if (!opt.weights.empty()) m.load_weights(opt.weights);
  EvalResult r = learner.evaluate(test);
  if (r.task == Task::kRegression) {
    auto number = [](double v) {  // JSON has no NaN: R^2 of constant targets is null
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.9g", v);
      return std::isfinite(v) ? std::string(buf) : std::string("null");
    };
    if (opt.json)
      std::printf("{\"test_loss\":%s,\"test_mse\":%s,\"test_r2\":%s,\"rows\":%lld}\n", number(r.loss).c_str(),
                  number(r.mse).c_str(), number(r.r2).c_str(), static_cast<long long>(r.rows));
    else
      std::printf("test examples: %lld\ntest mse: %.6g\ntest r2: %.6f\n", static_cast<long long>(r.rows), r.mse, r.r2);
    return 0;
  }
  const int64_t c = r.classes;
  if (opt.json) {
    std::printf("{\"test_loss\":%.6g,\"test_accuracy\":%.6g,\"rows\":%lld,\"confusion\":[", r.loss, r.accuracy,
                static_cast<long long>(r.rows));
    for (int64_t i = 0; i < c; ++i) {
      std::printf("%s[", i ? "," : "");
      for (int64_t j = 0; j < c; ++j)
        std::printf("%s%lld", j ? "," : "", static_cast<long long>(r.confusion[static_cast<size_t>(i * c + j)]));
      std::printf("]");
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("test examples: %lld\ntest accuracy: %.4f\ntest loss: %.4f\n", static_cast<long long>(r.rows),
              r.accuracy, r.loss);
  int64_t widest = 1;
  for (int64_t v : r.confusion) widest = std::max<int64_t>(widest, static_cast<int64_t>(std::to_string(v).size()));
  int w = static_cast<int>(std::max<int64_t>(widest, 3));
  std::printf("confusion matrix (rows: true class, columns: predicted):\n%*s", w + 1, "");
  for (int64_t j = 0; j < c; ++j) std::printf(" %*lld", w, static_cast<long long>(j));
  std::printf("\n");
  for (int64_t i = 0; i < c; ++i) {
    std::printf("%*lld", w + 1, static_cast<long long>(i));
    for (int64_t j = 0; j < c; ++j)
      std::printf(" %*lld", w, static_cast<long long>(r.confusion[static_cast<size_t>(i * c + j)]));
    std::printf("\n");
  }
  return 0;
}

}  // namespace dlc
