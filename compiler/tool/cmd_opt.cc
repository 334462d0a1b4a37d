// `dlc opt --passes a,b MODEL`: runs the named graph passes on a model and
// prints the resulting graph as text, so each pass is testable on its own,
// text in and text out (tests/filecheck/).
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

namespace dlc {
namespace {

std::string usage() {
  std::string s =
      "usage: dlc opt --passes PASS[,PASS...] MODEL [--batch N] [--dump-after PASS|all]\n"
      "\n"
      "Runs the named graph passes on MODEL (.pbtxt or .pb), in the order given, and\n"
      "prints the resulting graph as text, as `dlc print` does. Each pass's result is\n"
      "verified, and a pass that reports no change must have left the graph alone.\n"
      "\n"
      "Implicit passes: `verify` always runs first (it infers the types every pass\n"
      "needs), and `bind_batch` (to --batch, default 1) runs before the first pass\n"
      "other than verify unless the list binds the batch itself.\n"
      "Prerequisites are not run for you: a pass listed without one is an error\n"
      "naming it (lower_optimizer needs autodiff before it; regularize must come\n"
      "before autodiff; regularize, autodiff and lower_optimizer need a model with a\n"
      "training section).\n"
      "\n"
      "passes:\n";
  for (const auto& info : graph_pass_infos()) {
    std::string line = "  " + info.name;
    line.resize(20, ' ');
    s += line + info.summary + "\n";
  }
  s +=
      "\n"
      "options:\n"
      "  --passes LIST      comma-separated pass names (required)\n"
      "  --batch N          the batch size bind_batch binds (default 1)\n"
      "  --dump-after P|all also print the graph after pass P (or every pass) to stderr\n";
  return s;
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(start, comma - start);
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

}  // namespace

int cmd_opt(int argc, char** argv) {
  std::string model_path, passes;
  bool passes_given = false;
  CompileOptions opts;
  opts.verify_changes = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i], v;
    auto value = [&](const std::string& flag) -> bool {
      if (a.rfind(flag + "=", 0) == 0) {
        v = a.substr(flag.size() + 1);
        return true;
      }
      if (a != flag) return false;
      if (i + 1 >= argc) throw Error("dlc opt: " + flag + " needs a value");
      v = argv[++i];
      return true;
    };
    if (a == "--help" || a == "-h") {
      std::printf("%s", usage().c_str());
      return 0;
    } else if (value("--passes")) {
      passes = v;
      passes_given = true;
    } else if (value("--batch")) {
      try {
        opts.batch = parse_whole_number("--batch", v, 1, kMaxBatch);
      } catch (const Error& e) {
        std::fprintf(stderr, "dlc opt: %s\n", e.what());
        return 2;
      }
    } else if (value("--dump-after")) {
      opts.dump_after = v;
    } else if (a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "dlc opt: unknown option '%s'\n%s", a.c_str(), usage().c_str());
      return 2;
    } else if (model_path.empty()) {
      model_path = a;
    } else {
      std::fprintf(stderr, "dlc opt: expected one model file, got '%s' too\n", a.c_str());
      return 2;
    }
  }
  if (model_path.empty() || !passes_given) {
    std::fprintf(stderr, "dlc opt: %s\n%s", model_path.empty() ? "no model file given" : "no --passes given",
                 usage().c_str());
    return 2;
  }
  std::vector<std::string> names = split(passes);
  if (names.empty()) {
    std::fprintf(stderr, "dlc opt: --passes names no pass\n");
    return 2;
  }
  if (!opts.dump_after.empty() && opts.dump_after != "all") {
    bool listed = false;
    for (const auto& n : names) listed = listed || n == opts.dump_after;
    if (!listed && opts.dump_after != "verify" && opts.dump_after != "bind_batch")
      throw Error("dlc opt: --dump-after " + opts.dump_after + ": that pass is not in --passes");
  }
  Model m = load_model(model_path);
  run_named_passes(m, names, opts);
  std::string text = print_model(m);
  if (!text.empty() && text.back() != '\n') text += '\n';
  std::printf("%s", text.c_str());
  return 0;
}

}  // namespace dlc
