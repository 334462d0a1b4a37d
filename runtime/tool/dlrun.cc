// `dlrun`: runs compiled executables (.dlc). This file only dispatches to the
// subcommands (runtime/tool/cmd_*.cc) and reports the errors they throw.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "dlrt.hpp"
#include "ir/error.h"
#include "ir/size_limits.h"
#include "runtime/tool/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* summary;
};

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"info", dlc::cmd_info, "describe an executable: target, batch, inputs, outputs, entry points"},
      {"predict", dlc::cmd_predict, "run the model on rows from an .npy file and write its outputs"},
      {"train", dlc::cmd_train, "train a classifier or a regression on MNIST-layout, .npy or CSV data"},
      {"eval", dlc::cmd_eval, "test loss, accuracy and confusion matrix of a classifier; MSE and R^2 of a regression"},
      {"bench", dlc::cmd_bench, "time train_step and predict on one batch: ms per call, samples/s, peak memory"},
      {"plot", dlc::cmd_plot, "draw a training run's metrics CSV (dlrun train --metrics) as an SVG picture"},
  };
  return table;
}

void print_usage(FILE* out) {
  std::fprintf(out,
               "usage: dlrun COMMAND MODEL.dlc [OPTIONS]\n"
               "       dlrun plot METRICS.csv -o FILE.svg\n"
               "\n"
               "dlrun runs executables compiled by `dlc compile`.\n"
               "\n"
               "commands:\n");
  for (const auto& c : commands()) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\n`dlrun COMMAND --help` (or `dlrun help COMMAND`) describes a command's options.\n"
               "\n"
               "--max-memory BYTES (any command; or the environment variable DLC_MAX_MEMORY): the\n"
               "most one tensor, file or temp arena may take, e.g. 32G (default 16G).\n");
}

const Command* find_command(const char* name) {
  for (const auto& c : commands())
    if (std::strcmp(c.name, name) == 0) return &c;
  return nullptr;
}

int run_command(const Command& c, int argc, char** argv) {
  try {
    return c.run(argc, argv);
  } catch (const dlrt::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  } catch (const dlc::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    // Sizes from files and models are checked against the limit first, so
    // this is a size within the limit that this machine cannot provide.
    std::fprintf(stderr, "dlrun %s: out of memory (a lower --max-memory has such sizes refused before allocating)\n", c.name);
    return 1;
  } catch (const std::exception& e) {
    // Not a user error: a bug in dlrun. Say so rather than blame the model.
    std::fprintf(stderr, "dlrun %s: internal error: %s\n", c.name, e.what());
    return 3;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Valid with every command, so no command's parser needs to know it.
  if (std::string bad = dlc::take_max_memory_option(&argc, argv); !bad.empty()) {
    std::fprintf(stderr, "dlrun: %s\n", bad.c_str());
    return 2;
  }
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string first = argv[1];
  if (first == "--help" || first == "-h") {
    print_usage(stdout);
    return 0;
  }
  if (first == "help") {
    if (argc < 3) {
      print_usage(stdout);
      return 0;
    }
    const Command* c = find_command(argv[2]);
    if (!c) {
      std::fprintf(stderr, "dlrun: unknown command '%s'\n", argv[2]);
      return 2;
    }
    char help[] = "--help";
    char* args[] = {argv[2], help, nullptr};
    return run_command(*c, 2, args);
  }
  const Command* c = find_command(argv[1]);
  if (!c) {
    std::fprintf(stderr, "dlrun: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return 2;
  }
  return run_command(*c, argc - 1, argv + 1);
}
