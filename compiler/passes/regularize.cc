#include "compiler/passes/regularize.h"

#include <cmath>

#include "ir/builder.h"
#include "ir/printer.h"
#include "ir/error.h"

namespace dlc {
namespace {

std::vector<std::string> regularized_params(const Model& m, const proto::Regularizer& reg) {
  std::vector<std::string> names;
  if (reg.params().empty()) {
    for (const auto& p : m.graph.params)
      if (!p.frozen) names.push_back(p.name);
    return names;
  }
  for (const auto& name : reg.params()) {
    const Parameter* p = m.graph.find_param(name);
    if (!p) throw Error(m.source + ": regularization: parameter '" + name + "' does not exist");
    names.push_back(name);
  }
  return names;
}

/// coeff · Σ f(w) over all elements, as a scalar of the loss's dtype.
std::string penalty(GraphBuilder& b, const std::string& w, const std::string& f, double coeff, DType loss_dtype) {
  std::string v = b.op(f, {w});
  int64_t rank = b.type(w).rank();
  if (rank > 0) {
    std::vector<int64_t> axes;
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
    v = b.reduce_sum(v, axes);
  }
  if (b.type(v).dtype != loss_dtype) v = b.cast(v, loss_dtype);
  return b.mul(b.scalar(coeff, loss_dtype), v);
}

}  // namespace

std::vector<std::string> check_regularization(const Model& m) {
  std::vector<std::string> errors;
  if (!m.has_training()) return errors;
  std::string prefix = (m.source.empty() ? "" : m.source + ": ") + "training: regularization ";
  for (int k = 0; k < m.training.regularization_size(); ++k) {
    const proto::Regularizer& reg = m.training.regularization(k);
    std::string where = prefix + std::to_string(k + 1) + ": ";
    for (auto [field, v] : {std::make_pair("l1", reg.l1()), std::make_pair("l2", reg.l2())})
      if (!(std::isfinite(v) && v >= 0))
        errors.push_back(where + field + " must be a finite number >= 0, got " + format_number(v));
    if (reg.l1() == 0 && reg.l2() == 0) continue;  // the pass skips it
    std::vector<const Parameter*> params;
    if (reg.params().empty()) {
      for (const auto& p : m.graph.params)
        if (!p.frozen) params.push_back(&p);
    }
    for (const auto& name : reg.params())
      if (const Parameter* p = m.graph.find_param(name)) params.push_back(p);  // the verifier names a missing one
    for (const Parameter* p : params) {
      const std::string& name = p->name;
      if (!is_float(p->type.dtype))
        errors.push_back(where + "parameter '" + name + "' is " + p->type.str() + ", not a float tensor");
    }
  }
  return errors;
}

bool RegularizePass::run(Model& m) {
  if (!m.has_training()) return false;
  Graph& g = m.graph;
  GraphBuilder b(g);
  const std::string loss = m.training.loss();
  DType loss_dtype = g.type_of(loss).dtype;
  if (std::vector<std::string> errors = check_regularization(m); !errors.empty()) throw Error(errors[0]);
  std::string total_penalty;
  auto accumulate = [&](const std::string& term) {
    total_penalty = total_penalty.empty() ? term : b.add(total_penalty, term);
  };
  for (const auto& reg : m.training.regularization()) {
    if (reg.l1() == 0 && reg.l2() == 0) continue;
    for (const auto& w : regularized_params(m, reg)) {
      if (!is_float(g.type_of(w).dtype))
        throw Error(m.source + ": regularization: parameter '" + w + "' is " + g.type_of(w).str() +
                    ", not a float tensor");
      if (reg.l1() != 0) accumulate(penalty(b, w, "abs", reg.l1(), loss_dtype));
      if (reg.l2() != 0) accumulate(penalty(b, w, "square", reg.l2(), loss_dtype));
    }
  }
  if (total_penalty.empty()) return false;
  std::string total = b.op("add", {loss, total_penalty}, {}, g.fresh_name(loss + ".regularized"));
  m.training.set_loss(total);
  return true;
}

}  // namespace dlc
