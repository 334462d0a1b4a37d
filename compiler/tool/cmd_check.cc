// `dlc check MODEL`: verify a model, then summarize it or list every error.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "compiler/passes/optimizers.h"
#include "compiler/tool/commands.h"
#include "compiler/validate_model.h"
#include "frontend/model_loader.h"
#include "ir/label_dependence.h"
#include "ir/printer.h"

namespace dlc {
namespace {

constexpr const char* kUsage =
    "usage: dlc check MODEL\n"
    "\n"
    "Loads MODEL (.pbtxt text or .pb binary) and runs the validation `dlc compile`\n"
    "starts with: structure, every value's shape, initializer values, the\n"
    "optimizer's hyper-parameters (a value out of range, or one the kind does not\n"
    "use), regularization, names the optimizer reserves, and that every op between\n"
    "a trainable parameter and the loss has a gradient. Prints `ok` and a summary\n"
    "(inputs with their roles, parameters and their element count, outputs,\n"
    "training loss, the optimizer's hyper-parameter values with defaults filled\n"
    "in, its update rule and the regularization penalty), or every error, one per\n"
    "line, and exits 1. docs/optimizers.md describes the optimizers.\n"
    "An output that needs a LABEL input (the loss, say) is marked \"train_step\n"
    "only\": the compiled predict entry point, fed no labels, leaves it out.\n";

using Row = std::vector<std::string>;

/// Prints rows as left-aligned columns, indented by two spaces.
void print_table(const std::vector<Row>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) {
      if (width.size() <= c) width.resize(c + 1, 0);
      width[c] = std::max(width[c], r[c].size());
    }
  for (const auto& r : rows) {
    std::string line = " ";
    for (size_t c = 0; c < r.size(); ++c) {
      line += " " + r[c];
      if (c + 1 < r.size()) line += std::string(width[c] - r[c].size(), ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    std::printf("%s\n", line.c_str());
  }
}

const char* role_name(proto::InputRole role) {
  switch (role) {
    case proto::LABEL: return "label";
    case proto::LEARNING_RATE: return "learning rate";
    case proto::STEP: return "step";
    default: return "data";
  }
}

/// The values the optimizer will use, its update rule and the penalties,
/// from the same table and passes the compiler uses.
void print_what_is_computed(const Model& m) {
  const proto::Optimizer& opt = m.training.optimizer();
  const OptimizerSpec* spec = find_optimizer_spec(opt.kind());
  if (!spec) return;  // validation refused it already
  std::string uses;
  double weight_decay = 0;
  for (const auto& v : resolve_hyper_parameters(opt)) {
    uses += (uses.empty() ? "" : ", ") + v.name + "=" + format_number(v.value) + (v.given ? "" : " (default)");
    if (v.name == "weight_decay") weight_decay = v.value;
  }
  std::printf("  hyper-parameters: %s; dlrun train --lr overrides learning_rate\n", uses.c_str());
  std::printf("  update of each trainable parameter w: %s\n", spec->rule.c_str());
  if (spec->kind != "adamw")
    std::printf("  g = %s\n", weight_decay != 0 ? "the loss's gradient + weight_decay*w" : "the loss's gradient");
  std::printf("  the same update and defaults as %s\n", spec->pytorch.c_str());
  for (const auto& r : m.training.regularization()) {
    std::string penalty;
    if (r.l1() != 0) penalty = format_number(r.l1()) + "*sum(|w|)";
    if (r.l2() != 0) penalty += (penalty.empty() ? "" : " + ") + format_number(r.l2()) + "*sum(w^2)";
    std::printf("  %s: the loss gets + %s per parameter\n", print_regularizer(r).c_str(),
                penalty.empty() ? "0" : penalty.c_str());
  }
}

void print_summary(const Model& m) {
  const Graph& g = m.graph;
  std::printf("ok\n");

  std::printf("inputs: %zu\n", g.inputs.size());
  std::vector<Row> rows;
  for (const auto& i : g.inputs) rows.push_back({i.name, i.type.str(), role_name(i.role)});
  print_table(rows);

  int64_t total = 0;
  rows.clear();
  for (const auto& p : g.params) {
    total += p.type.numel();
    rows.push_back({p.name, p.type.str(), std::to_string(p.type.numel()), print_initializer(p.init),
                    p.frozen ? "frozen" : ""});
  }
  std::printf("parameters: %zu, %lld elements\n", g.params.size(), static_cast<long long>(total));
  print_table(rows);

  std::printf("outputs: %zu\n", g.outputs.size());
  rows.clear();
  // The same rule as the compiled entry points (entry_specs), so check
  // says up front what predict will not return.
  for (const auto& o : g.outputs) {
    std::vector<std::string> labels = label_inputs_needed(g, o);
    rows.push_back({o, g.type_of(o).str(), labels.empty() ? "" : "train_step only: " + describe_label_need(labels)});
  }
  print_table(rows);

  if (!m.has_training()) {
    std::printf("training: none (inference only)\n");
    return;
  }
  const proto::Optimizer& opt = m.training.optimizer();
  std::printf("training: minimize '%s' with %s\n", m.training.loss().c_str(), print_optimizer(opt).c_str());
  print_what_is_computed(m);
}

}  // namespace

int cmd_check(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      return 0;
    }
    if (a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "dlc check: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
    files.push_back(a);
  }
  if (files.size() != 1) {
    std::fprintf(stderr, "dlc check: expected one model file\n%s", kUsage);
    return 2;
  }
  Model m = load_model(files[0]);  // dlc::Error (parse errors) is printed by the dispatcher
  // The same validation as compile's first stage, so the two never disagree.
  std::vector<std::string> errors = validate_model(m);
  if (!errors.empty()) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  print_summary(m);
  return 0;
}

}  // namespace dlc
