#include "compiler/passes/expand_composites.h"

#include <map>
#include <stdexcept>

#include "ir/builder.h"
#include "ir/error.h"
#include "ir/op_registry.h"

namespace dlc {
namespace {

/// A convolution pass the library computes: f32 (other dtypes expand).
bool library_call(const Graph& g, const Node& n, const OpDef& def) {
  return def.lowering == Lowering::convolution && g.type_of(n.inputs[0]).dtype == DType::f32;
}

class Expander {
 public:
  Expander(Graph& g, std::vector<std::pair<std::string, std::string>>* state_updates, bool convolutions_as_gemm)
      : g_(g), b_(g), convolutions_as_gemm_(convolutions_as_gemm) {
    b_.record_state_updates(state_updates);
  }

  /// Appends `n`, or what it expands into, to the graph.
  bool add(Node n, int depth = 0) {
    const OpDef* def = find_op(n.op);
    if (!def) throw Error("node '" + n.name + "': unknown op '" + n.op + "'");
    if (!def->expand || (library_call(g_, n, *def) && !convolutions_as_gemm_)) {
      g_.nodes.push_back(std::move(n));
      return false;
    }
    // Composites nest a few levels (a loss uses one_hot); more is a cycle.
    if (depth > 8) throw std::logic_error("expand_composites: '" + n.op + "' expands into itself");
    size_t start = g_.nodes.size();
    std::vector<std::string> outs = def->expand(b_, n);
    if (outs.empty()) {  // this use of the op needs no expansion
      g_.nodes.push_back(std::move(n));
      return false;
    }
    if (outs.size() != n.outputs.size())
      throw std::logic_error("expand_composites: " + n.op + " expanded into the wrong number of values");
    std::vector<Node> emitted(std::make_move_iterator(g_.nodes.begin() + static_cast<std::ptrdiff_t>(start)),
                              std::make_move_iterator(g_.nodes.end()));
    g_.nodes.resize(start);
    // The expansion's results take the composite's output names.
    std::map<std::string, std::string> rename;
    for (size_t i = 0; i < outs.size(); ++i) {
      if (g_.type_of(outs[i]) != g_.type_of(n.outputs[i]))
        throw std::logic_error("expand_composites: " + n.op + "'s expansion computes " + g_.type_of(outs[i]).str() +
                               " for " + g_.type_of(n.outputs[i]).str());
      rename[outs[i]] = n.outputs[i];
    }
    bool nested = !n.expanded_from.empty();
    for (Node& e : emitted) {
      e.line = n.line;
      e.expanded_from = nested ? n.expanded_from : n.name;
      e.expanded_from_op = nested ? n.expanded_from_op : n.op;
      for (auto& in : e.inputs)
        if (rename.count(in)) in = rename.at(in);
      for (auto& out : e.outputs)
        if (rename.count(out)) {
          out = rename.at(out);
          e.name = n.outputs.size() == 1 ? n.name : out;
        }
    }
    for (const auto& [from, to] : rename) g_.types.erase(from);
    for (Node& e : emitted) add(std::move(e), depth + 1);
    return true;
  }

 private:
  Graph& g_;
  GraphBuilder b_;
  bool convolutions_as_gemm_;
};

}  // namespace

bool ExpandCompositesPass::run(Model& m) {
  return expand_composites(m.graph, training_ && m.has_training() ? &m.updates : nullptr, convolutions_as_gemm_);
}

bool has_composites(const Graph& g) {
  for (const auto& n : g.nodes) {
    const OpDef* def = find_op(n.op);
    if (!def || !def->expand || library_call(g, n, *def)) continue;
    if (def->lowering == Lowering::expansion) return true;
    // An op that expands only some of its uses (matmul of non-f32): ask it,
    // on a scratch graph holding just what the node reads.
    Graph scratch;
    for (const auto& in : n.inputs) scratch.types[in] = g.type_of(in);
    for (const auto& out : n.outputs) scratch.types[out] = g.type_of(out);
    GraphBuilder b(scratch);
    if (!def->expand(b, n).empty()) return true;
  }
  return false;
}

bool expand_composites(Graph& g, std::vector<std::pair<std::string, std::string>>* state_updates,
                       bool convolutions_as_gemm) {
  std::vector<Node> nodes = std::move(g.nodes);
  g.nodes.clear();
  Expander x(g, state_updates, convolutions_as_gemm);
  bool changed = false;
  for (Node& n : nodes) changed |= x.add(std::move(n));
  return changed;
}

}  // namespace dlc
