#include "compiler/validate_model.h"

#include "compiler/passes/autodiff.h"
#include "compiler/passes/bind_batch.h"
#include "compiler/passes/expand_composites.h"
#include "compiler/passes/lower_optimizer.h"
#include "compiler/passes/optimizers.h"
#include "compiler/passes/regularize.h"
#include "ir/error.h"
#include "ir/verifier.h"

namespace dlc {
namespace {

void append(std::vector<std::string>& to, const std::vector<std::string>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

/// The nodes autodiff would refuse, found on a copy: differentiation
/// expands composites first, and their primitives hold the gradient rules.
/// The batch is bound first (to 2, any size does): some expansions need
/// concrete dims (conv2d's GEMM rows count batch x positions).
std::vector<std::string> differentiability_errors(const Model& m) {
  Model bound = m;
  BindBatchPass(2).run(bound);
  Graph& g = bound.graph;
  expand_composites(g);
  if (!verify_graph(g, m.source).empty()) return {};  // an expansion bug; the pipeline names it
  std::vector<std::string> wrt;
  for (const auto& p : g.params)
    if (!p.frozen && is_float(p.type.dtype)) wrt.push_back(p.name);
  if (wrt.empty()) return {};
  return non_differentiable_nodes(g, m.training.loss(), wrt, m.source);
}

}  // namespace

std::vector<std::string> validate_model(Model& m) {
  std::vector<std::string> errors = verify_model(m);
  if (!m.has_training()) return errors;
  bool sound = errors.empty();  // types known, nodes sorted, the loss a float scalar
  append(errors, check_hyper_parameters(m.training.optimizer(), (m.source.empty() ? "" : m.source + ": ") + "training: "));
  append(errors, check_regularization(m));
  append(errors, optimizer_name_clashes(m));
  if (sound) append(errors, differentiability_errors(m));
  return errors;
}

void validate_or_throw(Model& m) {
  std::vector<std::string> errors = validate_model(m);
  if (errors.empty()) return;
  std::string all;
  for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
  throw Error(all);
}

}  // namespace dlc
