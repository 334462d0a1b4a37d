// read_metrics_csv (training_plot.h): the history back from the CSV that
// run_training writes with --metrics.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ir/error.h"
#include "ir/file_io.h"
#include "ir/number_text.h"
#include "runtime/training/training_plot.h"

namespace dlc {
namespace {

/// The four headers run_training writes.
struct Header {
  const char* text;
  Task task;
  bool has_val;
};
constexpr Header kHeaders[] = {
    {"epoch,train_loss,test_loss,test_accuracy,seconds", Task::kClassification, false},
    {"epoch,train_loss,test_loss,test_accuracy,seconds,val_loss,val_accuracy", Task::kClassification, true},
    {"epoch,train_loss,test_mse,test_r2,seconds", Task::kRegression, false},
    {"epoch,train_loss,test_mse,test_r2,seconds,val_mse,val_r2", Task::kRegression, true},
};

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out(1);
  for (char c : line) {
    if (c == sep) out.emplace_back();
    else out.back() += c;
  }
  return out;
}

/// A metric: a number within `range`, or "nan", "inf", "-inf" as printf
/// writes them (the plot leaves those out).
double metric(const std::string& what, const std::string& text, RealRange range) {
  if (text == "nan" || text == "-nan") return std::numeric_limits<double>::quiet_NaN();
  if (text == "inf" && range.contains(INFINITY)) return INFINITY;
  if (text == "-inf" && range.contains(-INFINITY)) return -INFINITY;
  return parse_real_number(what, text, range);
}

}  // namespace

TrainingHistory read_metrics_csv(const std::string& path) {
  const std::string bytes = read_file_bytes(path);
  std::vector<std::string> lines = split(bytes, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // the last line's newline
  for (std::string& l : lines)
    if (!l.empty() && l.back() == '\r') l.pop_back();  // written on Windows, or edited there
  std::string expected;
  for (const Header& hd : kHeaders) expected += std::string(expected.empty() ? "" : " or ") + "'" + hd.text + "'";
  if (lines.empty()) throw Error(path + ": empty; a metrics CSV from dlrun train starts with " + expected);
  const Header* header = nullptr;
  for (const Header& hd : kHeaders)
    if (lines[0] == hd.text) header = &hd;
  if (!header)
    throw Error(path + ":1: the header '" + lines[0] + "' is not that of dlrun train --metrics: expected " + expected);

  TrainingHistory h;
  h.task = header->task;
  const std::vector<std::string> names = split(header->text, ',');
  const RealRange loss = RealRange::non_negative(), accuracy{0, false, 1, false}, r2{-INFINITY, false, 1, false};
  const RealRange metric_range = h.task == Task::kRegression ? r2 : accuracy;
  double best_val = INFINITY;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string where = path + ":" + std::to_string(i + 1);
    if (lines[i].empty()) throw Error(where + ": an empty line");
    std::vector<std::string> f = split(lines[i], ',');
    if (f.size() != names.size())
      throw Error(where + ": " + std::to_string(f.size()) + " fields, the header has " +
                  std::to_string(names.size()) + " ('" + lines[i] + "')");
    auto what = [&](size_t column) { return where + ": " + names[column]; };
    EpochRecord r;
    r.epoch = parse_whole_number(what(0), f[0], 1);
    if (!h.epochs.empty() && r.epoch != h.epochs.back().epoch + 1)
      throw Error(what(0) + " " + f[0] + " does not follow epoch " + std::to_string(h.epochs.back().epoch));
    r.train_loss = metric(what(1), f[1], loss);
    auto eval = [&](size_t column) {
      EvalResult e;
      e.task = h.task;
      double first = metric(what(column), f[column], loss);
      double second = metric(what(column + 1), f[column + 1], metric_range);
      if (h.task == Task::kRegression) {
        e.loss = e.mse = first;
        e.r2 = second;
      } else {
        e.loss = first;
        e.accuracy = second;
      }
      return e;
    };
    r.test = eval(2);
    r.seconds = parse_real_number(what(4), f[4], RealRange::non_negative());
    if (header->has_val) {
      r.has_val = true;
      r.val = eval(5);
      if (r.val.loss < best_val) {  // as run_training picks it: the first of the lowest
        best_val = r.val.loss;
        h.best_epoch = r.epoch;
      }
    }
    h.seconds += r.seconds;
    h.epochs.push_back(r);
  }
  if (!h.epochs.empty()) {
    h.first_epoch = h.epochs.front().epoch - 1;
    h.epochs_done = h.epochs.back().epoch;
    h.final_test = h.epochs.back().test;
  }
  return h;
}

}  // namespace dlc
