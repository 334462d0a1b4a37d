// `dlc`: the compiler's command-line tool. This file only dispatches to the
// subcommands (compiler/tool/cmd_*.cc) and reports the errors they throw.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "compiler/tool/commands.h"
#include "ir/error.h"
#include "ir/size_limits.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* summary;
};

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"check", dlc::cmd_check, "verify a model; print a summary or every error"},
      {"print", dlc::cmd_print, "print a model's graph as text, optionally after a compiler pass"},
      {"opt", dlc::cmd_opt, "run named graph passes on a model and print the graph (pass tests)"},
      {"import", dlc::cmd_import, "convert an ONNX model into a dlc model file, optionally for training"},
      {"compile", dlc::cmd_compile, "compile a model (.pbtxt, .pb or .onnx) into an executable (.dlc)"},
      {"gradcheck", dlc::cmd_gradcheck, "compare symbolic gradients with finite differences"},
      {"ops", dlc::cmd_ops, "list the ops dlc knows"},
  };
  return table;
}

void print_usage(FILE* out) {
  std::fprintf(out,
               "usage: dlc COMMAND [OPTIONS] MODEL\n"
               "\n"
               "dlc compiles deep-learning models written as protobuf graphs (.pbtxt or .pb).\n"
               "\n"
               "commands:\n");
  for (const auto& c : commands()) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out,
               "\n"
               "`dlc COMMAND --help` (or `dlc help COMMAND`) describes a command's options.\n"
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
  } catch (const dlc::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    // Sizes from files and models are checked against the limit first, so
    // this is a size within the limit that this machine cannot provide.
    std::fprintf(stderr, "dlc %s: out of memory (a lower --max-memory has such sizes refused before allocating)\n", c.name);
    return 1;
  } catch (const std::exception& e) {
    // Not a user error: a bug in dlc. Say so rather than blame the model.
    std::fprintf(stderr, "dlc %s: internal error: %s\n", c.name, e.what());
    return 3;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Valid with every command, so no command's parser needs to know it.
  if (std::string bad = dlc::take_max_memory_option(&argc, argv); !bad.empty()) {
    std::fprintf(stderr, "dlc: %s\n", bad.c_str());
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
      std::fprintf(stderr, "dlc: unknown command '%s'\n\n", argv[2]);
      print_usage(stderr);
      return 2;
    }
    char help_flag[] = "--help";
    char* help_argv[] = {argv[2], help_flag, nullptr};
    return run_command(*c, 2, help_argv);
  }
  const Command* c = find_command(first.c_str());
  if (!c) {
    std::fprintf(stderr, "dlc: unknown command '%s'\n\n", first.c_str());
    print_usage(stderr);
    return 2;
  }
  return run_command(*c, argc - 1, argv + 1);
}
