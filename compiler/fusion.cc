#include "compiler/fusion.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>

#include "compiler/fusion_limits.h"
#include "compiler/loop_builder.h"
#include "compiler/memory_views.h"
#include "compiler/training_switch.h"
#include "ir/error.h"
#include "ir/op_registry.h"

namespace dlc {

const char* node_kind_name(NodeKind k) {
  switch (k) {
    case NodeKind::elementwise: return "elementwise";
    case NodeKind::fill: return "fill";
    case NodeKind::data: return "data";
    case NodeKind::iota: return "iota";
    case NodeKind::view: return "view";
    case NodeKind::reshape: return "reshape";
    case NodeKind::identity: return "identity";
    case NodeKind::reduction: return "reduction";
    case NodeKind::gemm: return "gemm";
    case NodeKind::window: return "window";
    case NodeKind::gather: return "gather";
    case NodeKind::random: return "random";
    case NodeKind::collective: return "collective";
    case NodeKind::convolution: return "convolution";
  }
  return "?";
}

namespace {
/// Kinds whose results exist only in memory: constant data, GEMM results and
/// window loops' results, never an expression inside another loop.
bool only_in_memory(NodeKind k) {
  return k == NodeKind::data || k == NodeKind::gemm || k == NodeKind::window || k == NodeKind::collective ||
         k == NodeKind::convolution;
}
}  // namespace

bool FusionPlan::in_memory(const std::string& v) const {
  auto it = producer.find(v);
  return it == producer.end() || stored.count(v) || only_in_memory(kind[it->second]);
}

bool FusionPlan::loopable(const std::string& v) const {
  auto it = producer.find(v);
  return it != producer.end() && !only_in_memory(kind[it->second]);
}

int FusionPlan::cluster_of(const std::string& v) const {
  for (size_t i = 0; i < clusters.size(); ++i)
    for (const auto& r : clusters[i].roots)
      if (r == v) return static_cast<int>(i);
  return -1;
}

namespace {

/// True when `a` and `b` are equal after dropping every size-1 dim.
bool same_without_ones(std::vector<int64_t> a, std::vector<int64_t> b) {
  a.erase(std::remove(a.begin(), a.end(), 1), a.end());
  b.erase(std::remove(b.begin(), b.end(), 1), b.end());
  return a == b;
}

/// True when window op `n` computes each output element as one guarded load
/// of its input at that element's own coordinates (one loop, nothing
/// summed, the output written in order): extract_patches. Such a value is
/// inlined into the loops that read it, like a view with bounds.
bool is_gather_window(const Graph& g, const Node& n, const OpDef& def) {
  const std::vector<int64_t>& out = g.type_of(n.outputs[0]).dims;
  std::vector<WindowLoop> loops = def.window(n, g.type_of(n.inputs[0]).dims, out);
  if (loops.size() != 1 || loops[0].reduce_dims != 0 || loops[0].dims != out || loops[0].out.size() != out.size())
    return false;
  for (size_t d = 0; d < out.size(); ++d) {
    const WindowCoord& c = loops[0].out[d];
    if (c.offset != 0 || c.coefs.size() != out.size()) return false;
    for (size_t j = 0; j < out.size(); ++j)
      if (c.coefs[j] != (j == d ? 1 : 0)) return false;
  }
  return true;
}

NodeKind classify(const Graph& g, const Node& n, bool training) {
  const OpDef* def = find_op(n.op);
  if (!def) throw Error("node '" + n.name + "': unknown op '" + n.op + "'");
  switch (def->lowering) {
    case Lowering::elementwise: return NodeKind::elementwise;
    case Lowering::constant: return n.has_attr("values") ? NodeKind::data : NodeKind::fill;
    case Lowering::iota: return NodeKind::iota;
    case Lowering::index_map: return NodeKind::view;
    case Lowering::reshape: return NodeKind::reshape;
    case Lowering::reduction: return NodeKind::reduction;
    case Lowering::window: return is_gather_window(g, n, *def) ? NodeKind::gather : NodeKind::window;
    case Lowering::collective: return NodeKind::collective;
    case Lowering::convolution: return NodeKind::convolution;
    case Lowering::random: return training && n.attr_float("rate") != 0.0 ? NodeKind::random : NodeKind::identity;
    case Lowering::gemm:
      if (g.type_of(n.inputs[0]).dtype == DType::f32) return NodeKind::gemm;
      break;
    case Lowering::expansion: break;
    case Lowering::training_switch: break;  // plan_fusion resolves every switch first
  }
  // Kernel programs have no fallback to the reference interpreter: a node
  // reaching here (expand_composites runs before fusion) is a pipeline bug.
  throw Error("node '" + n.name + "' (" + n.op + ") has no kernel lowering: it should have been expanded into "
              "primitive ops (is the expand_composites pass missing from the pipeline?)");
}

/// Plans one entry point; each step of plan_fusion is a method.
class Planner {
 public:
  Planner(const Graph& g, const EntrySpec& e) : g_(g) {
    p_.graph = &g;
    p_.entry = e;
  }

  FusionPlan run() {
    index_and_classify();
    mark_live();
    force_stores();
    // Before the cost rule: its walks up inlined producers then stop within the limits.
    bound_fused_expressions(p_, [this](const std::string& v, const std::string& why) { store(v, why); });
    decide_by_cost();
    p_.clusters = merge(roots_in_order());
    attach_epilogues();
    return std::move(p_);
  }

 private:
  // --- analysis ---------------------------------------------------------------

  void index_and_classify() {
    for (size_t k = 0; k < g_.nodes.size(); ++k) {
      for (const auto& o : g_.nodes[k].outputs) p_.producer[o] = static_cast<int>(k);
      p_.kind.push_back(classify(g_, g_.nodes[k], p_.entry.training));
    }
    auto known = [&](const std::string& v, const char* what) {
      if (!g_.types.count(v)) throw Error("entry '" + p_.entry.name + "': " + what + " '" + v + "' is not a graph value");
    };
    for (const auto& o : p_.entry.outputs) known(o, "output");
    for (const auto& [s, v] : p_.entry.updates) {
      known(v, "update value");
      if (!g_.find_param(s)) throw Error("entry '" + p_.entry.name + "': update target '" + s + "' is not a parameter");
    }
  }

  /// Values a node's step reads.
  const std::vector<std::string>& step_inputs(int k) const { return g_.nodes[k].inputs; }

  void mark_live() {
    p_.live.assign(g_.nodes.size(), false);
    std::vector<std::string> stack = p_.entry.outputs;
    for (const auto& u : p_.entry.updates) stack.push_back(u.second);
    std::set<std::string> seen;
    while (!stack.empty()) {
      std::string v = stack.back();
      stack.pop_back();
      if (!seen.insert(v).second) continue;
      auto it = p_.producer.find(v);
      if (it == p_.producer.end()) continue;
      p_.live[it->second] = true;
      for (const auto& i : step_inputs(it->second)) stack.push_back(i);
    }
    for (size_t k = 0; k < g_.nodes.size(); ++k)
      if (p_.live[k])
        for (const auto& i : step_inputs(static_cast<int>(k))) p_.consumers[i].push_back(static_cast<int>(k));
  }

  // --- stores forced by what lies outside loops ---------------------------------

  const std::string& out_of(int k) const { return g_.nodes[k].outputs[0]; }

  void store(const std::string& v, const std::string& reason) {
    if (!p_.loopable(v) || p_.stored.count(v)) return;
    p_.stored.insert(v);
    p_.explain.push_back("%" + v + " stored: " + reason);
  }

  void force_stores() {
    for (const auto& o : p_.entry.outputs) store(o, "entry output");
    for (const auto& u : p_.entry.updates) store(u.second, "new value of state '" + u.first + "'");
    for (size_t k = 0; k < g_.nodes.size(); ++k)
      if (p_.live[k] && p_.kind[k] == NodeKind::reduction)
        store(out_of(static_cast<int>(k)), "reduction result (the root of its kernel)");
    // Operands outside loops must be in memory in a layout their step reads;
    // a reshape must find contiguous data under it. Each new store can make
    // a view acceptable, so repeat until nothing changes.
    for (bool changed = true; changed;) {
      size_t before = p_.stored.size();
      for (size_t k = 0; k < g_.nodes.size(); ++k) {
        if (!p_.live[k]) continue;
        int ki = static_cast<int>(k);
        NodeKind kind = p_.kind[k];
        const Node& n = g_.nodes[k];
        if (kind == NodeKind::gemm) {
          for (const auto& in : step_inputs(ki)) {
            std::optional<MemoryView> view = view_of(p_, in);
            if (!view || !gemm_layout(*view)) store(in, "operand of " + n.op + " '" + n.name + "' needs it in memory");
          }
        }
        if (kind == NodeKind::window && !view_of(p_, n.inputs[0]))
          store(n.inputs[0], "input of " + n.op + " '" + n.name + "' is read from memory");
        // A gather's loads index its input's own dense data.
        if (kind == NodeKind::gather && !p_.in_memory(n.inputs[0]))
          store(n.inputs[0], "input of " + n.op + " '" + n.name + "' is read from memory through guarded indices");
        if (kind == NodeKind::convolution)
          for (const auto& in : n.inputs) {
            std::optional<MemoryView> view = view_of(p_, in);
            if (!view || !view->dense()) store(in, "operand of " + n.op + " '" + n.name + "' is read densely from memory");
          }
        if (kind == NodeKind::collective && !whole_buffer(n.inputs[0]))
          store(n.inputs[0], "input of " + n.op + " '" + n.name + "' is sent between processes from memory");
        if (kind == NodeKind::reshape && !is_relabel(n) && !read_as_strided_view(ki)) {
          std::string base = n.inputs[0];
          while (!p_.in_memory(base) && (p_.kind[p_.producer.at(base)] == NodeKind::reshape ||
                                         p_.kind[p_.producer.at(base)] == NodeKind::identity))
            base = g_.nodes[p_.producer.at(base)].inputs[0];
          if (!p_.in_memory(base)) store(base, "reshape '" + n.name + "' needs contiguous data");
        }
      }
      changed = p_.stored.size() != before;
    }
  }

  /// True when reshape `k`'s result has a strided view over memory and only
  /// steps that read through views consume it (windows, and GEMMs when the
  /// view is a BLAS layout): then the data under it need not be copied into
  /// order. Loops read a reshape as the dense data under it, so one loop
  /// consumer, or the reshape being stored itself, rules this out.
  bool read_as_strided_view(int k) const {
    const std::string& out = out_of(k);
    auto it = p_.consumers.find(out);
    if (it == p_.consumers.end() || p_.stored.count(out)) return false;
    std::optional<MemoryView> view = view_of(p_, out);
    if (!view) return false;
    for (int c : it->second) {
      bool reads_view = p_.kind[c] == NodeKind::window || (p_.kind[c] == NodeKind::gemm && gemm_layout(*view));
      if (!reads_view) return false;
    }
    return true;
  }

  /// True when `v` is in memory as the whole of its buffer, in order.
  bool whole_buffer(const std::string& v) const {
    std::optional<MemoryView> view = view_of(p_, v);
    return view && view->offset == 0 && view->dense() && g_.type_of(view->base).numel() == g_.type_of(v).numel();
  }

  bool is_relabel(const Node& reshape) const {
    auto drop = [](std::vector<int64_t> d) {
      d.erase(std::remove(d.begin(), d.end(), 1), d.end());
      return d;
    };
    return drop(g_.type_of(reshape.inputs[0]).dims) == drop(g_.type_of(reshape.outputs[0]).dims);
  }

  // --- the cost rule --------------------------------------------------------------

  /// Cost units that recomputing `v` drags in, stopping at values in
  /// memory; `expensive` collects transcendental ops.
  int cost_up(const std::string& v, bool* expensive, std::set<std::string>* seen) {
    if (p_.in_memory(v) || !seen->insert(v).second) return 0;
    bool exp = false;
    int ops = own_cost(p_, v, &exp);
    *expensive |= exp;
    for (const auto& in : g_.nodes[p_.producer.at(v)].inputs) {
      if (ops > 100000) break;  // far past any budget; stop walking
      ops += cost_up(in, expensive, seen);
    }
    return ops;
  }

  void decide_by_cost() {
    // Provisional kernels: the forced roots, merged as they will be.
    // A value inlined into a root is computed once per iteration of that
    // root's loop (a reduction's whole loop; an epilogue's kept dims).
    std::map<std::string, int> kernel_of;
    int next_kernel = 0;
    auto visits_of = [&](const std::string& root) {
      int64_t n = 1;
      for (int64_t d : loop_dims_of(p_, root)) n *= d;
      return n;
    };
    for (const auto& c : merge(roots_in_order())) {
      for (const auto& r : c.roots) kernel_of[r] = next_kernel;
      ++next_kernel;
    }
    // value -> kernel it is inlined into -> loop iterations computing it there
    std::map<std::string, std::map<int, int64_t>> kernels;
    for (int k = static_cast<int>(g_.nodes.size()) - 1; k >= 0; --k) {
      if (!p_.live[k] || !p_.loopable(out_of(k))) continue;
      const std::string& v = out_of(k);
      if (p_.stored.count(v)) continue;
      std::map<int, int64_t>& ks = kernels[v];
      for (int c : p_.consumers[v]) {
        if (!p_.loopable(out_of(c))) continue;  // a step outside loops reads v's view
        const std::string& w = out_of(c);
        if (p_.stored.count(w)) {
          int64_t& n = ks[kernel_of.at(w)];
          n = std::max(n, visits_of(w));
        } else {
          for (const auto& [kk, n] : kernels[w]) ks[kk] = std::max(ks[kk], n);
        }
      }
      NodeKind kind = p_.kind[k];
      // A gather read by several kernels (a pooling's forward and gradient)
      // is stored once: its guarded, strided loads looked dearer than a
      // dense read of the patches (LeNet-5's step about 20% slower inlined,
      // measured on a busy machine: NOTES.md Session 13).
      if (kind == NodeKind::gather && ks.size() > 1) {
        store(v, "read through guarded indices by " + std::to_string(ks.size()) + " kernels");
        kernel_of[v] = next_kernel++;
        continue;
      }
      if (kind != NodeKind::elementwise && kind != NodeKind::random) continue;  // free to inline
      int64_t numel = g_.type_of(v).numel(), visits = 0;
      for (const auto& [kk, n] : ks) visits += n;
      if (ks.size() <= 1 && visits <= numel) continue;  // computed once either way
      bool expensive = false;
      std::set<std::string> seen;
      int64_t cost = cost_up(v, &expensive, &seen);
      int64_t extra = (visits - numel) * cost;
      std::string where = ks.size() > 1 ? "used by " + std::to_string(ks.size()) + " kernels"
                                        : "broadcast into a larger loop";
      std::string costs = "costs " + std::to_string(cost) + " op units" + (expensive ? " (transcendental)" : "") +
                          ", " + std::to_string(extra) + " recomputed";
      if ((cost <= kRecomputeMaxOps && !expensive) || extra <= kRecomputeBudget) {
        p_.explain.push_back("%" + v + " recomputed: " + where + ", " + costs);
        continue;
      }
      store(v, where + ", " + costs + " (over the budget of " + std::to_string(kRecomputeBudget) + ")");
      kernel_of[v] = next_kernel++;
    }
  }

  // --- merging roots into kernels ---------------------------------------------------

  std::vector<std::string> roots_in_order() const {
    std::vector<std::string> roots(p_.stored.begin(), p_.stored.end());
    std::sort(roots.begin(), roots.end(),
              [&](const std::string& a, const std::string& b) { return p_.producer.at(a) < p_.producer.at(b); });
    return roots;
  }

  /// In-memory values the step producing `v` reads.
  std::vector<std::string> deps_of(const std::string& v, const std::map<std::string, int>& cluster_of,
                                   const std::vector<SymKernel>& built) const {
    auto c = cluster_of.find(v);
    if (c != cluster_of.end()) return built[c->second].loaded_values();
    auto it = p_.producer.find(v);
    if (it == p_.producer.end()) return {};
    std::vector<std::string> out;
    // Every collective of the entry is one step (the bucket): its results
    // wait for all of their inputs.
    std::vector<int> steps = {it->second};
    if (p_.kind[it->second] == NodeKind::collective) {
      steps.clear();
      for (size_t k = 0; k < g_.nodes.size(); ++k)
        if (p_.live[k] && p_.kind[k] == NodeKind::collective) steps.push_back(static_cast<int>(k));
    }
    for (int k : steps)
      for (const auto& in : step_inputs(k)) {
        std::optional<MemoryView> view = view_of(p_, in);
        if (view) out.push_back(view->base);
      }
    return out;
  }

  /// True when some value among `start` depends on one of `targets`
  /// through at least one step in between.
  bool reaches_through(const std::vector<std::string>& start, const std::set<std::string>& targets,
                       const std::map<std::string, int>& cluster_of, const std::vector<SymKernel>& built) const {
    // An explicit stack: the chain of kernels behind a value is as long as the graph.
    std::set<std::string> seen;
    std::vector<std::string> stack;
    for (const auto& s : start)
      if (!targets.count(s)) stack.push_back(s);
    while (!stack.empty()) {
      std::string v = std::move(stack.back());
      stack.pop_back();
      if (targets.count(v)) return true;
      if (!seen.insert(v).second) continue;
      for (auto& d : deps_of(v, cluster_of, built)) stack.push_back(std::move(d));
    }
    return false;
  }

  /// Greedy merging in topological order: each root joins the latest
  /// compatible kernel it is connected to, else starts its own.
  std::vector<Cluster> merge(const std::vector<std::string>& roots) const {
    std::vector<Cluster> out;
    std::vector<SymKernel> built;
    std::map<std::string, int> cluster_of;
    std::string why;
    for (const auto& r : roots) {
      Cluster single{{r}, p_.kind[p_.producer.at(r)] == NodeKind::reduction, -1};
      std::optional<SymKernel> alone = build_loop(p_, single, &why);
      if (!alone) throw Error("fusion: cannot build a kernel for '" + r + "': " + why);
      bool merged = false;
      std::vector<std::string> loads = alone->loaded_values();
      int64_t numel = 1;
      for (int64_t d : alone->dims) numel *= d;
      for (int c = static_cast<int>(out.size()) - 1; c >= 0 && !merged; --c) {
        std::set<std::string> theirs(out[c].roots.begin(), out[c].roots.end());
        std::vector<std::string> their_loads = built[c].loaded_values();
        bool feeds_on_it = false, shares_data = false, shares_any = false;
        for (const auto& l : loads) {
          feeds_on_it |= theirs.count(l) > 0;
          bool shared = std::find(their_loads.begin(), their_loads.end(), l) != their_loads.end();
          shares_any |= shared;
          shares_data |= shared && g_.type_of(l).numel() == numel;
        }
        if (single.reduction) {
          // A reduction joins a row kernel over the same row space whose
          // results it reads (softmax's sum reads its max) or that reads
          // what it reads (cross-entropy's x[label] beside the max of x; the
          // count of labels in range beside x[label]).
          if (!out[c].reduction || built[c].dims != alone->dims || built[c].reduce_dims != alone->reduce_dims) continue;
          if (!feeds_on_it && !shares_any) continue;
        } else {
          // A reduction's kernel takes element-wise consumers of its results
          // over its kept dims (a bias gradient's update) or over its whole
          // rows (softmax's normalized values, the cross-entropy gradient).
          std::vector<int64_t> kept = built[c].dims;
          kept.resize(kept.size() - static_cast<size_t>(built[c].reduce_dims));
          bool over_kept = out[c].reduction ? same_without_ones(kept, alone->dims) : kept == alone->dims;
          bool over_rows = out[c].reduction && built[c].dims == alone->dims;
          if (!over_kept && !over_rows) continue;
          if (out[c].reduction && !feeds_on_it) continue;  // only consumers of its results join a reduction
          if (!feeds_on_it && !shares_data) continue;
        }
        if (reaches_through(loads, theirs, cluster_of, built)) continue;
        Cluster joined = out[c];
        joined.roots.push_back(r);
        std::optional<SymKernel> k = build_loop(p_, joined, &why);
        if (!k || !within_fusion_limits(*k)) continue;  // a joined root inlines the others: depths add up
        out[c] = joined;
        built[c] = std::move(*k);
        cluster_of[r] = c;
        merged = true;
      }
      if (!merged) {
        cluster_of[r] = static_cast<int>(out.size());
        out.push_back(single);
        built.push_back(std::move(*alone));
      }
    }
    join_row_kernels(out, built, cluster_of);
    return out;
  }

  /// Greedy merging sees one root at a time, so reductions over one row
  /// space can end up in two kernels (the max of x in one; the count of
  /// valid labels, x[label] and then the sum of exp(x - max) in another).
  /// Two such kernels that share data or feed one another become one, when
  /// that builds and no third kernel lies between them.
  void join_row_kernels(std::vector<Cluster>& out, std::vector<SymKernel>& built,
                        std::map<std::string, int>& cluster_of) const {
    std::string why;
    for (bool joined = true; joined;) {
      joined = false;
      for (size_t i = 0; i < out.size() && !joined; ++i) {
        if (!out[i].reduction || out[i].gemm >= 0) continue;
        for (size_t j = i + 1; j < out.size() && !joined; ++j) {
          if (!out[j].reduction || out[j].gemm >= 0 || built[i].dims != built[j].dims ||
              built[i].reduce_dims != built[j].reduce_dims)
            continue;
          std::vector<std::string> li = built[i].loaded_values(), lj = built[j].loaded_values();
          std::set<std::string> ri(out[i].roots.begin(), out[i].roots.end()), rj(out[j].roots.begin(), out[j].roots.end());
          bool connected = false;
          for (const auto& l : lj) connected |= ri.count(l) || std::find(li.begin(), li.end(), l) != li.end();
          for (const auto& l : li) connected |= rj.count(l) > 0;
          if (!connected || reaches_through(lj, ri, cluster_of, built) || reaches_through(li, rj, cluster_of, built))
            continue;
          Cluster both = out[i];
          both.roots.insert(both.roots.end(), out[j].roots.begin(), out[j].roots.end());
          std::sort(both.roots.begin(), both.roots.end(), [&](const std::string& a, const std::string& b) {
            return p_.producer.at(a) < p_.producer.at(b);
          });
          std::optional<SymKernel> k = build_loop(p_, both, &why);
          if (!k || !within_fusion_limits(*k)) continue;
          out[i] = both;
          built[i] = std::move(*k);
          out.erase(out.begin() + static_cast<std::ptrdiff_t>(j));
          built.erase(built.begin() + static_cast<std::ptrdiff_t>(j));
          cluster_of.clear();
          for (size_t c = 0; c < out.size(); ++c)
            for (const auto& r : out[c].roots) cluster_of[r] = static_cast<int>(c);
          joined = true;
        }
      }
    }
  }

  /// A loop kernel reading a GEMM's result element for element right after
  /// it (bias + activation) becomes the GEMM's epilogue.
  void attach_epilogues() {
    std::map<std::string, int> cluster_of;
    std::vector<SymKernel> built;
    std::string why;
    for (size_t c = 0; c < p_.clusters.size(); ++c) {
      for (const auto& r : p_.clusters[c].roots) cluster_of[r] = static_cast<int>(c);
      built.push_back(*build_loop(p_, p_.clusters[c], &why));
    }
    for (size_t k = 0; k < g_.nodes.size(); ++k) {
      if (!p_.live[k] || p_.kind[k] != NodeKind::gemm) continue;
      const std::string& c_value = out_of(static_cast<int>(k));
      for (size_t c = 0; c < p_.clusters.size(); ++c) {
        const SymKernel& kern = built[c];
        if (p_.clusters[c].reduction || p_.clusters[c].gemm >= 0) continue;
        bool reads = false;
        for (const auto& l : kern.loads) reads |= l.value == c_value && reads_in_loop_order(l, kern);
        if (!reads || reaches_through(kern.loaded_values(), {c_value}, cluster_of, built)) continue;
        p_.clusters[c].gemm = static_cast<int>(k);
        break;
      }
    }
  }

  const Graph& g_;
  FusionPlan p_;
};

}  // namespace

FusionPlan plan_fusion(const Graph& g, const EntrySpec& e) {
  if (!has_training_switches(g)) return Planner(g, e).run();
  std::vector<std::string> resolved;
  auto own = std::make_shared<const Graph>(resolve_training_switches(g, e.training, &resolved));
  FusionPlan p = Planner(*own, e).run();
  p.explain.insert(p.explain.begin(), resolved.begin(), resolved.end());
  p.own_graph = std::move(own);
  return p;
}

}  // namespace dlc
