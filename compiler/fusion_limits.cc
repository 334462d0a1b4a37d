#include "compiler/fusion_limits.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "ir/op_registry.h"
#include "ir/scalar_walk.h"

namespace dlc {
namespace {

/// Depth and op units an inlined value brings into the expression that
/// inlines it (a load or a value in memory: depth 1, no units).
struct Extent {
  int64_t depth = 1;
  int64_t ops = 0;
};

int64_t saturating_add(int64_t a, int64_t b) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 4;
  return std::min(kMax, a + b);
}

/// Levels a node adds on top of its deepest inlined operand. For an
/// element-wise op, its own expression's depth over its operands (plus a
/// trunc for integer results); index remaps and fills add no scalar node
/// but one level of loop building's walk, so they count one.
int64_t own_depth(const FusionPlan& p, int k) {
  const Graph& g = *p.graph;
  const Node& n = g.nodes[k];
  if (p.kind[k] != NodeKind::elementwise) return 1;
  std::vector<SExpr> args;
  for (size_t i = 0; i < n.inputs.size(); ++i) args.push_back(arg(static_cast<int>(i)));
  SExpr e = find_op(n.op)->expr(args, n);
  int64_t d = std::max(1, scalar_depth({e.get()}) - (n.inputs.empty() ? 0 : 1));
  return is_integer(g.type_of(n.outputs[0]).dtype) ? d + 1 : d;
}

}  // namespace

void bound_fused_expressions(const FusionPlan& p,
                             const std::function<void(const std::string&, const std::string&)>& store) {
  const Graph& g = *p.graph;
  std::vector<Extent> extent(g.nodes.size());
  // What `v` brings into a consumer's expression right now (stores change it).
  auto brought = [&](const std::string& v) -> Extent {
    if (p.in_memory(v) || !p.loopable(v)) return {};
    return extent[p.producer.at(v)];
  };
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    if (!p.live[k] || g.nodes[k].outputs.size() != 1) continue;
    const std::string& v = g.nodes[k].outputs[0];
    if (!p.loopable(v)) continue;
    const Node& n = g.nodes[k];
    bool expensive = false;
    int64_t own_d = own_depth(p, static_cast<int>(k));
    int64_t own_ops = std::max(1, own_cost(p, v, &expensive));
    auto measure = [&] {
      Extent e;
      e.depth = own_d + 1;
      e.ops = own_ops;
      for (const auto& in : n.inputs) {
        Extent x = brought(in);
        e.depth = std::max(e.depth, own_d + x.depth);
        e.ops = saturating_add(e.ops, x.ops);
      }
      return e;
    };
    Extent e = measure();
    if (e.depth > kMaxFusedDepth || e.ops > kMaxFusedOps) {
      // Store the operands that bring the most, until this node's own
      // expression fits; each operand fits on its own (checked before).
      std::vector<std::string> inlined;
      for (const auto& in : n.inputs)
        if (brought(in).depth > 1 || brought(in).ops > 0) inlined.push_back(in);
      std::sort(inlined.begin(), inlined.end(), [&](const std::string& a, const std::string& b) {
        Extent x = brought(a), y = brought(b);
        return x.depth != y.depth ? x.depth > y.depth : x.ops > y.ops;
      });
      inlined.erase(std::unique(inlined.begin(), inlined.end()), inlined.end());
      for (const auto& in : inlined) {
        if (e.depth <= kMaxFusedDepth && e.ops <= kMaxFusedOps) break;
        Extent x = brought(in);
        store(in, "inlining it into '" + n.name + "' would make one kernel's expression " +
                      std::to_string(e.depth) + " deep and " + std::to_string(e.ops) + " op units (limits " +
                      std::to_string(kMaxFusedDepth) + ", " + std::to_string(kMaxFusedOps) + "; it brings " +
                      std::to_string(x.depth) + " deep, " + std::to_string(x.ops) + " units)");
        e = measure();
      }
    }
    extent[k] = e;
  }
}

bool within_fusion_limits(const SymKernel& k, std::string* why) {
  std::vector<const ScalarNode*> roots;
  for (const auto& r : k.reductions) roots.push_back(r.body.get());
  for (const auto& s : k.stores) roots.push_back(s.expr.get());
  std::vector<const ScalarNode*> nodes = scalar_post_order(roots);
  int64_t ops = 0;
  for (const ScalarNode* n : nodes) {
    if (n->op == ScalarOp::arg || n->op == ScalarOp::constant) continue;
    bool transcendental = n->op == ScalarOp::exp || n->op == ScalarOp::log || n->op == ScalarOp::log1p ||
                          n->op == ScalarOp::tanh || n->op == ScalarOp::pow;
    ops += transcendental ? 8 : 1;
  }
  int depth = scalar_depth(roots);
  if (depth <= kMaxFusedDepth && ops <= kMaxFusedOps) return true;
  if (why)
    *why = "its expressions would be " + std::to_string(depth) + " deep and " + std::to_string(ops) +
           " op units (limits " + std::to_string(kMaxFusedDepth) + ", " + std::to_string(kMaxFusedOps) + ")";
  return false;
}

}  // namespace dlc
