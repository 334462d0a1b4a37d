// Stage `fuse`: the fusion plan of every entry point (compiler/fusion.h).
// Its dump lists each live node's kind and fate, the stored values with
// their reasons, and the loop kernels (clusters) fusion formed.
#include <sstream>

#include "compiler/stage.h"
#include "ir/error.h"

namespace dlc {
namespace {

std::string values(const std::vector<std::string>& vs) {
  std::string s;
  for (const auto& v : vs) s += (s.empty() ? "%" : ", %") + v;
  return s;
}

class FuseStage : public Stage {
 public:
  std::string name() const override { return "fuse"; }
  IrLevel level() const override { return IrLevel::fusion; }

  bool run(Compilation& c) override {
    c.plans.clear();
    for (const auto& e : c.entries) c.plans.push_back(plan_fusion(c.model.graph, e));
    return true;
  }

  void check(const Compilation& c) const override {
    if (c.plans.size() != c.entries.size()) throw Error("fusion planned " + std::to_string(c.plans.size()) +
                                                        " entries of " + std::to_string(c.entries.size()));
    for (const auto& p : c.plans) {
      bool own_graph = p.own_graph && p.graph == p.own_graph.get();  // training switches resolved
      if ((p.graph != &c.model.graph && !own_graph) || p.kind.size() != p.graph->nodes.size() || p.live.size() != p.kind.size())
        throw Error("fusion plan of '" + p.entry.name + "' does not cover the graph's nodes");
      for (size_t k = 0; k < p.clusters.size(); ++k) {
        if (p.clusters[k].roots.empty()) throw Error("fusion plan of '" + p.entry.name + "': cluster " +
                                                     std::to_string(k) + " stores nothing");
        for (const auto& r : p.clusters[k].roots)
          if (!p.stored.count(r))
            throw Error("fusion plan of '" + p.entry.name + "': cluster " + std::to_string(k) + " root %" + r +
                        " is not a stored value");
      }
    }
  }

  std::string dump(const Compilation& c) const override {
    std::string s;
    for (const auto& p : c.plans) s += print_fusion_plan(p);
    return s;
  }

  uint64_t fingerprint(const Compilation& c) const override { return fnv1a(dump(c)); }
};

}  // namespace

std::string print_fusion_plan(const FusionPlan& p) {
  std::ostringstream o;
  o << "fusion " << p.entry.name << ":\n";
  for (size_t i = 0; i < p.graph->nodes.size(); ++i) {
    if (!p.live[i]) continue;
    const Node& n = p.graph->nodes[i];
    o << "  " << values(n.outputs) << " = " << n.op << ": " << node_kind_name(p.kind[i]);
    const std::string& out = n.outputs.empty() ? n.name : n.outputs[0];
    int k = p.cluster_of(out);
    if (k >= 0) o << ", stored by cluster " << k;
    else if (p.stored.count(out)) o << ", stored";
    else if (p.loopable(out)) o << ", inlined";
    o << "\n";
  }
  for (const auto& line : p.explain) o << "  " << line << "\n";
  for (size_t k = 0; k < p.clusters.size(); ++k) {
    const Cluster& cl = p.clusters[k];
    o << "  cluster " << k << ": " << values(cl.roots) << (cl.reduction ? " (reduction)" : " (loop)");
    if (cl.gemm >= 0) o << " epilogue of matmul %" << p.graph->nodes[static_cast<size_t>(cl.gemm)].outputs[0];
    o << "\n";
  }
  return o.str();
}

std::unique_ptr<Stage> make_fuse_stage() { return std::make_unique<FuseStage>(); }

}  // namespace dlc
