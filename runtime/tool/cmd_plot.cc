// `dlrun plot METRICS.csv -o FILE.svg [--title T]`: a picture of a training
// run from the CSV that `dlrun train --metrics` wrote.
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/tool/command_line.h"
#include "runtime/tool/commands.h"
#include "runtime/training/training_plot.h"

namespace dlc {
namespace {

constexpr const char* kUsage =
    "usage: dlrun plot METRICS.csv -o FILE.svg [--title TITLE]\n"
    "\n"
    "Draws the run recorded in METRICS.csv (written by `dlrun train --metrics`)\n"
    "as an SVG picture: on the left the training loss and the test (and\n"
    "validation) loss of every epoch, on a log scale when they span more than\n"
    "a decade; on the right the test (and validation) accuracy. A regression\n"
    "shows its mean squared errors on the left and R^2 on the right. A dashed\n"
    "line marks the epoch of the lowest validation loss. The x axis counts\n"
    "epochs (the CSV has no per-update losses; `dlrun train --plot FILE.svg`\n"
    "draws those too). Any browser shows the file; `rsvg-convert FILE.svg -o\n"
    "FILE.png` makes a PNG.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE   the SVG to write (replaced atomically)\n"
    "  --title TITLE       the picture's title (default: METRICS.csv's name)\n";

struct Options {
  std::string metrics, output, title;
  bool has_title = false;
};

int parse_options(int argc, char** argv, Options* o) {
  std::vector<Argument> args;
  if (int status = split_arguments(argc, argv, {"-o", "--output", "--title"}, "plot", kUsage, &args)) return status;
  for (const Argument& a : args) {
    if (a.flag == "-o" || a.flag == "--output") o->output = a.value;
    else if (a.flag == "--title") o->title = a.value, o->has_title = true;
    else if (a.is_option() || !o->metrics.empty()) return unexpected_argument("plot", a, kUsage);
    else o->metrics = a.text;
  }
  if (o->metrics.empty() || o->output.empty()) return usage_error("plot", "needs METRICS.csv and -o FILE.svg", kUsage);
  return 0;
}

}  // namespace

int cmd_plot(int argc, char** argv) {
  Options opt;
  if (int status = parse_options(argc, argv, &opt); status != 0) return status < 0 ? 0 : status;
  TrainingHistory h = read_metrics_csv(opt.metrics);
  if (!opt.has_title) {
    size_t slash = opt.metrics.find_last_of('/');
    opt.title = slash == std::string::npos ? opt.metrics : opt.metrics.substr(slash + 1);
  }
  write_training_plot(h, opt.output, opt.title);
  std::printf("wrote %s: %zu epoch%s\n", opt.output.c_str(), h.epochs.size(), h.epochs.size() == 1 ? "" : "s");
  return 0;
}

}  // namespace dlc
