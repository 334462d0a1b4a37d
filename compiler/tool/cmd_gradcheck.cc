// `dlc gradcheck MODEL [--batch N] [--seed S] [--elements K] [--eps E]`: symbolic
// gradients against finite differences, worst relative error per parameter.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "compiler/gradcheck.h"
#include "compiler/tool/commands.h"
#include "frontend/model_loader.h"
#include "ir/error.h"
#include "ir/number_text.h"

namespace dlc {
namespace {

constexpr double kTolerance = 1e-6;

constexpr const char* kUsage =
    "usage: dlc gradcheck MODEL [--batch N] [--seed S] [--elements K] [--eps E]\n"
    "\n"
    "Differentiates MODEL's training loss (with its regularization) and compares\n"
    "the gradient of every trainable parameter with central finite differences,\n"
    "both evaluated in float64 by the reference interpreter on random data\n"
    "(inputs N(0,1), labels in their valid range, parameters from their\n"
    "initializers plus noise). Prints the worst relative error per parameter,\n"
    "  |analytic - numeric| / max(|analytic| + |numeric|, 1e-4),\n"
    "and exits 1 when any exceeds 1e-6.\n"
    "\n"
    "options:\n"
    "  --batch N      bind the batch dimension to N (default 4)\n"
    "  --seed S       seed of the data, the parameters and the sampled elements (default 0)\n"
    "  --elements K   check at most K elements per parameter, 0 for all (default 20)\n"
    "  --eps E        finite-difference step (default 1e-3; Richardson-extrapolated\n"
    "                 central differences, retried at E/10, E/100 and E/1000 where a step crosses a kink)\n";

struct GradcheckArgs {
  std::string model;
  int64_t batch = 4;
  uint64_t seed = 0;
  int64_t elements = 20;
  double eps = kGradcheckEps;
};

/// Parses the options; returns -1 to go on, else the exit status.
int parse_args(int argc, char** argv, GradcheckArgs* args) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      return 0;
    }
    std::string flag = a, value;
    bool is_flag = a == "--batch" || a == "--seed" || a == "--elements" || a == "--eps";
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      flag = a.substr(0, eq);
      value = a.substr(eq + 1);
      is_flag = true;
    } else if (is_flag) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "dlc gradcheck: %s needs a value\n", a.c_str());
        return 2;
      }
      value = argv[++i];
    }
    if (!is_flag) {
      if (a.size() > 1 && a[0] == '-') {
        std::fprintf(stderr, "dlc gradcheck: unknown option '%s'\n%s", a.c_str(), kUsage);
        return 2;
      }
      if (!args->model.empty()) {
        std::fprintf(stderr, "dlc gradcheck: expected one model file, got '%s' too\n", a.c_str());
        return 2;
      }
      args->model = a;
      continue;
    }
    if (flag != "--batch" && flag != "--seed" && flag != "--elements" && flag != "--eps") {
      std::fprintf(stderr, "dlc gradcheck: unknown option '%s'\n%s", flag.c_str(), kUsage);
      return 2;
    }
    try {
      if (flag == "--eps") args->eps = parse_real_number(flag, value, {0, true, 1, true});
      else if (flag == "--batch") args->batch = parse_whole_number(flag, value, 1, kMaxBatch);
      else if (flag == "--seed") args->seed = parse_unsigned_number(flag, value);
      else args->elements = parse_whole_number(flag, value, 0);
    } catch (const Error& e) {
      std::fprintf(stderr, "dlc gradcheck: %s\n", e.what());
      return 2;
    }
  }
  if (args->model.empty()) {
    std::fprintf(stderr, "dlc gradcheck: no model given\n%s", kUsage);
    return 2;
  }
  return -1;
}

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

}  // namespace

int cmd_gradcheck(int argc, char** argv) {
  GradcheckArgs args;
  if (int status = parse_args(argc, argv, &args); status >= 0) return status;
  Model m = load_model(args.model);
  std::vector<GradcheckEntry> entries = gradcheck_model(m, args.seed, args.batch, args.elements, args.eps);

  std::vector<std::vector<std::string>> rows = {
      {"parameter", "checked", "max rel error", "analytic", "numeric", ""}};
  bool all_ok = true;
  for (const auto& e : entries) {
    bool ok = e.max_rel_error <= kTolerance;
    all_ok = all_ok && ok;
    rows.push_back({e.value, std::to_string(e.elements_checked), format("%.3e", e.max_rel_error),
                    format("%.9g", e.analytic), format("%.9g", e.numeric), ok ? "ok" : "FAIL"});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line += std::string(width[c] - r[c].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  }
  std::printf("%s: worst relative error %s tolerance %.0e (batch %lld, seed %llu)\n",
              all_ok ? "ok" : "FAIL", all_ok ? "within" : "above", kTolerance,
              static_cast<long long>(args.batch), static_cast<unsigned long long>(args.seed));
  return all_ok ? 0 : 1;
}

}  // namespace dlc
