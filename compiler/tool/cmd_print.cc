// `dlc print MODEL [--after PASS] [--batch N]`: a model's graph as text.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "compiler/pipeline.h"
#include "compiler/tool/commands.h"
#include "frontend/model_loader.h"
#include "ir/error.h"
#include "ir/number_text.h"
#include "ir/printer.h"
#include "ir/verifier.h"

namespace dlc {
namespace {

constexpr const char* kUsage =
    "usage: dlc print MODEL [--after PASS] [--batch N] [--no-training]\n"
    "\n"
    "Prints MODEL's graph, one node a line with its inferred type:\n"
    "  %h1 = relu(%z1) : f32[batch,256]\n"
    "inputs and parameters first, then nodes, outputs and the training section.\n"
    "\n"
    "options:\n"
    "  --after PASS    run the compiler's graph passes up to and including PASS and\n"
    "                  print the result; PASS is one of verify, bind_batch,\n"
    "                  regularize, autodiff, lower_optimizer, fold_constants, cse, simplify,\n"
    "                  or `all`\n"
    "                  to print the model after every pass\n"
    "  --batch N       bind the batch dimension to N (runs the passes up to\n"
    "                  bind_batch when --after is not given); the passes after\n"
    "                  verify bind it to 1 when --batch is not given\n"
    "  --no-training   leave the training section out of the passes: the\n"
    "                  inference graph only\n";

struct PrintArgs {
  std::string model;
  std::string after;
  int64_t batch = 0;  // 0: not given
  bool training = true;
};

/// Parses the options; returns -1 to go on, else the exit status.
int parse_args(int argc, char** argv, PrintArgs* args) {
  std::string missing_value;  // a flag given last, without its value
  // Accepts "--flag value" and "--flag=value".
  auto value_of = [&](int& i, const std::string& flag, std::string* out) {
    std::string a = argv[i];
    if (a.rfind(flag + "=", 0) == 0) {
      *out = a.substr(flag.size() + 1);
      return true;
    }
    if (a != flag) return false;
    if (i + 1 < argc) *out = argv[++i];
    else missing_value = flag;
    return true;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i], v;
    if (!missing_value.empty()) break;
    if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      return 0;
    } else if (value_of(i, "--after", &v)) {
      args->after = v;
    } else if (value_of(i, "--batch", &v)) {
      try {
        args->batch = parse_whole_number("--batch", v, 1, kMaxBatch);
      } catch (const Error& e) {
        std::fprintf(stderr, "dlc print: %s\n", e.what());
        return 2;
      }
    } else if (a == "--no-training") {
      args->training = false;
    } else if (a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "dlc print: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    } else if (args->model.empty()) {
      args->model = a;
    } else {
      std::fprintf(stderr, "dlc print: expected one model file, got '%s' too\n", a.c_str());
      return 2;
    }
  }
  if (!missing_value.empty()) {
    std::fprintf(stderr, "dlc print: %s needs a value\n", missing_value.c_str());
    return 2;
  }
  if (args->model.empty()) {
    std::fprintf(stderr, "dlc print: no model file given\n%s", kUsage);
    return 2;
  }
  return -1;
}

}  // namespace

int cmd_print(int argc, char** argv) {
  PrintArgs args;
  if (int status = parse_args(argc, argv, &args); status >= 0) return status;
  Model m = load_model(args.model);

  if (args.after.empty() && args.batch == 0) {
    // The model as written: verification alone fills in the types.
    std::vector<std::string> errors = verify_model(m);
    if (!errors.empty()) {
      for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
      return 1;
    }
    if (!args.training) m.training.Clear();
    std::printf("%s", print_model(m).c_str());
    return 0;
  }

  CompileOptions opts;
  // The passes after verify work on a bound batch; 1 keeps the printed
  // shapes closest to the model's own.
  opts.batch = args.batch > 0 ? args.batch : 1;
  opts.training = args.training;
  if (args.after == "all") {
    opts.dump_after = "all";
    opts.on_dump = [](const std::string& pass, const std::string& text) {
      std::printf("# after %s\n%s\n", pass.c_str(), text.c_str());
    };
    run_graph_passes(m, opts);
    return 0;
  }
  opts.stop_after = args.after.empty() ? "bind_batch" : args.after;
  run_graph_passes(m, opts);
  if (!args.training) m.training.Clear();
  std::printf("%s", print_model(m).c_str());
  return 0;
}

}  // namespace dlc
