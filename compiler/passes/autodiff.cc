#include "compiler/passes/autodiff.h"

#include "compiler/passes/expand_composites.h"

#include <algorithm>
#include <set>

#include "ir/builder.h"
#include "ir/error.h"
#include "ir/op_registry.h"
#include "ir/verifier.h"

namespace dlc {
namespace {

std::string node_where(const std::string& source, const Node& n) {
  std::string s = source;
  if (n.line > 0) s += (s.empty() ? "line " : ":") + std::to_string(n.line);
  // A primitive of an expanded composite is reported as the composite.
  bool expanded = !n.expanded_from.empty();
  return (s.empty() ? "" : s + ": ") + "node '" + (expanded ? n.expanded_from : n.name) + "' (" +
         (expanded ? n.expanded_from_op : n.op) + ")";
}

/// "parameter 'w'", "input 'x'" or "value 'h'", for messages.
std::string describe(const Graph& g, const std::string& v) {
  if (g.find_param(v)) return "parameter '" + v + "'";
  if (g.find_input(v)) return "input '" + v + "'";
  return "value '" + v + "'";
}

/// "parameter 'w'", or "parameter 'a' and parameter 'b'" for several.
std::string describe_all(const Graph& g, const std::vector<std::string>& values) {
  std::string s;
  for (size_t i = 0; i < values.size(); ++i)
    s += (i == 0 ? "" : i + 1 == values.size() ? " and " : ", ") + describe(g, values[i]);
  return s;
}

/// The differentiation of one loss: the state shared by its steps.
class Differentiator {
 public:
  Differentiator(Graph& g, std::string loss, std::vector<std::string> wrt, std::string source)
      : g_(g), b_(g), loss_(std::move(loss)), wrt_(std::move(wrt)), source_(std::move(source)),
        forward_count_(g.nodes.size()) {}

  std::map<std::string, std::string> run() {
    check_arguments();
    find_paths();
    // Every node without a gradient rule at once, not the first one backward finds.
    std::vector<std::string> missing = non_differentiable_nodes(g_, loss_, wrt_, source_);
    if (!missing.empty()) {
      std::string all;
      for (const auto& e : missing) all += (all.empty() ? "" : "\n") + e;
      throw Error(all);
    }
    backward();
    std::map<std::string, std::string> result;
    for (const auto& w : wrt_) {
      if (contributions_.count(w)) {
        result[w] = total(w);
      } else if (loss_deps_.count(w)) {
        throw_blocked(w);
      } else {
        // The loss does not depend on w at all: its gradient is exactly zero,
        // and the optimizer still gets a value of the right type to read.
        result[w] = b_.fill(0.0, g_.type_of(w));
      }
    }
    prune(result);
    name_gradients(result);
    return result;
  }

 private:
  void check_arguments() {
    auto lt = g_.types.find(loss_);
    if (lt == g_.types.end()) throw Error("loss '" + loss_ + "' is not a value of the graph");
    if (!is_float(lt->second.dtype))
      throw Error("loss '" + loss_ + "' must be a float value, got " + lt->second.str());
    for (const auto& w : wrt_) {
      auto it = g_.types.find(w);
      if (it == g_.types.end()) throw Error("cannot differentiate with respect to '" + w + "': no such value");
      if (!is_float(it->second.dtype))
        throw Error("cannot differentiate with respect to " + describe(g_, w) + " of type " + it->second.str() +
                    ": only float values have gradients");
    }
  }

  /// origin_: value -> the first wrt value it depends on (forward reach);
  /// loss_deps_: the values the loss depends on (backward reach).
  void find_paths() {
    for (const auto& w : wrt_) origin_.emplace(w, w);
    for (size_t k = 0; k < forward_count_; ++k) {
      const Node& n = g_.nodes[k];
      for (const auto& o : n.outputs) producer_[o] = k;
      for (const auto& in : n.inputs) {
        auto it = origin_.find(in);
        if (it == origin_.end()) continue;
        for (const auto& o : n.outputs) origin_.emplace(o, it->second);
        break;
      }
    }
    std::vector<std::string> stack{loss_};
    while (!stack.empty()) {
      std::string v = stack.back();
      stack.pop_back();
      if (!loss_deps_.insert(v).second) continue;
      auto p = producer_.find(v);
      if (p != producer_.end())
        for (const auto& in : g_.nodes[p->second].inputs) stack.push_back(in);
    }
  }

  /// The summed gradient of `v`; emits the sum once and caches it.
  std::string total(const std::string& v) {
    auto& parts = contributions_.at(v);
    while (parts.size() > 1) {
      std::string s = b_.add(parts[0], parts[1]);
      parts.erase(parts.begin(), parts.begin() + 2);
      parts.insert(parts.begin(), s);
    }
    return parts[0];
  }

  void backward() {
    contributions_[loss_].push_back(b_.fill(1.0, g_.type_of(loss_)));
    for (size_t k = forward_count_; k-- > 0;) {
      Node n = g_.nodes[k];  // a copy: the builder appends to g_.nodes
      const std::string* from_wrt = nullptr;
      for (const auto& in : n.inputs)
        if (auto it = origin_.find(in); it != origin_.end() && !from_wrt) from_wrt = &it->second;
      if (!from_wrt) continue;
      std::vector<std::string> dy;
      bool needed = false;
      for (const auto& o : n.outputs) {
        dy.push_back(contributions_.count(o) ? total(o) : "");
        needed = needed || !dy.back().empty();
      }
      if (!needed) continue;
      const OpDef* def = find_op(n.op);
      if (!def || !def->grad) throw not_differentiable(n, *from_wrt);
      std::vector<std::string> dx = def->grad(b_, n, dy);
      if (dx.size() != n.inputs.size())
        throw Error(node_where(source_, n) + ": its gradient rule returned " + std::to_string(dx.size()) +
                    " value(s) for " + std::to_string(n.inputs.size()) + " input(s)");
      for (size_t i = 0; i < dx.size(); ++i) {
        const std::string& in = n.inputs[i];
        if (!origin_.count(in)) continue;  // independent of every wrt value; pruned later
        const TensorType& want = g_.type_of(in);
        // Integer and bool values carry no gradient: their producers are
        // piecewise constant, so nothing flows further back through them.
        if (dx[i].empty() || !is_float(want.dtype)) {
          blocked_.insert(k);
          continue;
        }
        const TensorType& got = g_.type_of(dx[i]);
        if (got != want)
          throw Error(node_where(source_, n) + ": its gradient rule returned " + got.str() + " for input '" +
                      in + "' of type " + want.str());
        contributions_[in].push_back(dx[i]);
      }
    }
  }

  Error not_differentiable(const Node& n, const std::string& w) const {
    return Error(node_where(source_, n) + " is not differentiable; the loss depends on " + describe(g_, w) +
                 " through it");
  }

  /// The loss depends on `w`, yet no gradient reached it: names the node
  /// on the way that stops it.
  [[noreturn]] void throw_blocked(const std::string& w) const {
    std::set<std::string> from_w{w};
    std::vector<size_t> on_path;
    for (size_t k = 0; k < forward_count_; ++k) {
      const Node& n = g_.nodes[k];
      bool reached = false;
      for (const auto& in : n.inputs) reached = reached || from_w.count(in);
      if (!reached) continue;
      bool to_loss = false;
      for (const auto& o : n.outputs) {
        from_w.insert(o);
        to_loss = to_loss || loss_deps_.count(o);
      }
      if (to_loss) on_path.push_back(k);
    }
    for (size_t k : on_path) {
      const OpDef* def = find_op(g_.nodes[k].op);
      if (!def || !def->grad) throw not_differentiable(g_.nodes[k], w);
    }
    for (size_t k : on_path)
      if (blocked_.count(k))
        throw Error(node_where(source_, g_.nodes[k]) + " passes no gradient to its inputs; the loss depends on " +
                    describe(g_, w) + " only through it");
    throw Error("no gradient reaches " + describe(g_, w) + " although the loss '" + loss_ + "' depends on it");
  }

  /// Removes the gradient nodes no result needs (gradient rules emit the
  /// gradients of every input, also those of inputs nobody asked about).
  void prune(const std::map<std::string, std::string>& result) {
    std::set<std::string> live;
    for (const auto& [w, v] : result) live.insert(v);
    std::vector<bool> keep(g_.nodes.size(), true);
    for (size_t k = g_.nodes.size(); k-- > forward_count_;) {
      const Node& n = g_.nodes[k];
      bool used = false;
      for (const auto& o : n.outputs) used = used || live.count(o);
      keep[k] = used;
      if (used) live.insert(n.inputs.begin(), n.inputs.end());
    }
    std::vector<Node> kept;
    for (size_t k = 0; k < g_.nodes.size(); ++k) {
      if (keep[k]) {
        kept.push_back(std::move(g_.nodes[k]));
      } else {
        for (const auto& o : g_.nodes[k].outputs) g_.types.erase(o);
      }
    }
    g_.nodes = std::move(kept);
  }

  /// Renames each new gradient value to `w.grad`, so dumps read well and
  /// later passes can find them.
  void name_gradients(std::map<std::string, std::string>& result) {
    std::map<std::string, size_t> made_here;
    for (size_t k = forward_count_; k < g_.nodes.size(); ++k)
      for (const auto& o : g_.nodes[k].outputs) made_here[o] = k;
    std::set<std::string> renamed;
    for (const auto& w : wrt_) {
      std::string old = result.at(w);
      std::string fresh = w + ".grad";
      if (!made_here.count(old) || renamed.count(old) || g_.types.count(fresh)) continue;
      for (size_t k = forward_count_; k < g_.nodes.size(); ++k) {
        Node& n = g_.nodes[k];
        for (auto& in : n.inputs)
          if (in == old) in = fresh;
        for (auto& o : n.outputs)
          if (o == old) o = fresh;
        if (n.name == old) n.name = fresh;
      }
      g_.types[fresh] = g_.types.at(old);
      g_.types.erase(old);
      for (auto& [v, grad] : result)
        if (grad == old) grad = fresh;
      renamed.insert(fresh);
    }
  }

  Graph& g_;
  GraphBuilder b_;
  const std::string loss_;
  const std::vector<std::string> wrt_;
  const std::string source_;
  const size_t forward_count_;
  std::map<std::string, size_t> producer_;
  std::map<std::string, std::string> origin_;
  std::set<std::string> loss_deps_;
  std::map<std::string, std::vector<std::string>> contributions_;
  std::set<size_t> blocked_;  // forward nodes that returned no gradient for a wrt-dependent input
};

}  // namespace

std::vector<std::string> non_differentiable_nodes(const Graph& g, const std::string& loss,
                                                  const std::vector<std::string>& wrt, const std::string& source) {
  std::map<std::string, size_t> producer;
  for (size_t k = 0; k < g.nodes.size(); ++k)
    for (const auto& o : g.nodes[k].outputs) producer[o] = k;
  auto is_float_value = [&](const std::string& v) {
    auto it = g.types.find(v);
    return it != g.types.end() && is_float(it->second.dtype);
  };
  // Forward: the values that depend on some wrt value.
  std::set<std::string> from_wrt(wrt.begin(), wrt.end());
  for (const auto& n : g.nodes)
    for (const auto& in : n.inputs)
      if (from_wrt.count(in)) {
        from_wrt.insert(n.outputs.begin(), n.outputs.end());
        break;
      }
  // Backward: the values a gradient could flow to from the loss. Integer and
  // bool values carry none (the differentiator drops them), so a node
  // reached only through one is not asked for a gradient.
  std::set<std::string> to_loss;
  std::vector<std::string> stack{loss};
  while (!stack.empty()) {
    std::string v = stack.back();
    stack.pop_back();
    if (!to_loss.insert(v).second) continue;
    if (auto p = producer.find(v); p != producer.end())
      for (const auto& in : g.nodes[p->second].inputs)
        if (is_float_value(in)) stack.push_back(in);
  }
  std::set<std::string> wrt_set(wrt.begin(), wrt.end());
  std::vector<std::string> errors;
  std::set<std::string> reported;  // a composite's primitives are reported as the composite, once
  for (const auto& n : g.nodes) {
    const OpDef* def = find_op(n.op);
    if (def && def->grad) continue;
    bool feeds_loss = false, fed = false;
    for (const auto& o : n.outputs) feeds_loss = feeds_loss || to_loss.count(o);
    for (const auto& in : n.inputs) fed = fed || (from_wrt.count(in) && is_float_value(in));
    if (!feeds_loss || !fed) continue;
    // The parameters behind it: the wrt values among its ancestors.
    std::set<std::string> seen;
    std::vector<std::string> behind, pending(n.inputs.begin(), n.inputs.end());
    while (!pending.empty()) {
      std::string v = pending.back();
      pending.pop_back();
      if (!from_wrt.count(v) || !seen.insert(v).second) continue;
      if (wrt_set.count(v)) behind.push_back(v);
      if (auto p = producer.find(v); p != producer.end())
        pending.insert(pending.end(), g.nodes[p->second].inputs.begin(), g.nodes[p->second].inputs.end());
    }
    std::sort(behind.begin(), behind.end(), [&](const std::string& a, const std::string& b) {
      return std::find(wrt.begin(), wrt.end(), a) < std::find(wrt.begin(), wrt.end(), b);
    });
    std::string e = node_where(source, n) + " is not differentiable; the loss depends on " + describe_all(g, behind) +
                    " through it";
    if (reported.insert(e).second) errors.push_back(e);
  }
  return errors;
}

std::map<std::string, std::string> append_gradients(Graph& g, const std::string& loss,
                                                    const std::vector<std::string>& wrt,
                                                    const std::string& source) {
  // Composites have no gradient rules of their own: their primitives do.
  expand_composites(g);
  return Differentiator(g, loss, wrt, source).run();
}

bool AutodiffPass::run(Model& m) {
  if (!m.has_training() || !m.gradients.empty()) return false;
  // Differentiation walks nodes in topological order and reads every type.
  verify_or_throw(m.graph, m.source);
  std::vector<std::string> wrt;
  for (const auto& p : m.graph.params)
    if (!p.frozen && is_float(p.type.dtype)) wrt.push_back(p.name);
  if (wrt.empty()) return false;
  size_t before = m.graph.nodes.size();
  m.gradients = append_gradients(m.graph, m.training.loss(), wrt, m.source);
  return m.graph.nodes.size() != before;
}

}  // namespace dlc
