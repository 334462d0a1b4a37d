#include "compiler/passes/regularize.h"

#include "ir/builder.h"
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

bool RegularizePass::run(Model& m) {
  if (!m.has_training()) return false;
  Graph& g = m.graph;
  GraphBuilder b(g);
  const std::string loss = m.training.loss();
  DType loss_dtype = g.type_of(loss).dtype;
  std::string total_penalty;
  auto accumulate = [&](const std::string& term) {
    total_penalty = total_penalty.empty() ? term : b.add(total_penalty, term);
  };
  for (const auto& reg : m.training.regularization()) {
    if (reg.l1() < 0 || reg.l2() < 0)
      throw Error(m.source + ": regularization: l1 and l2 must not be negative");
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
