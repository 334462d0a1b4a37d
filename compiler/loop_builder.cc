#include "compiler/loop_builder.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "ir/op_registry.h"

namespace dlc {

DimMap identity_map(size_t r) {
  DimMap m(r);
  for (size_t i = 0; i < r; ++i) m[i] = static_cast<int>(i);
  return m;
}

std::vector<int64_t> load_strides(const SymLoad& l, size_t rank) {
  std::vector<int64_t> strides(rank, 0);
  std::vector<int64_t> rs = strides_of(l.view_dims);
  for (size_t j = 0; j < l.dim_of.size(); ++j)
    if (l.dim_of[j] >= 0) strides[l.dim_of[j]] += rs[j];
  for (size_t j = 0; j < l.coords.size(); ++j)
    for (size_t d = 0; d < rank; ++d) strides[d] += rs[j] * l.coords[j].coefs[d];
  return strides;
}

bool reads_in_loop_order(const SymLoad& l, const SymKernel& k) {
  if (!l.reads_memory() || !l.coords.empty()) return false;
  size_t outer = k.dims.size() - static_cast<size_t>(k.reduce_dims);
  std::vector<int64_t> loop_dims(k.dims.begin(), k.dims.begin() + static_cast<std::ptrdiff_t>(outer));
  int64_t numel = 1, loop = 1;
  for (int64_t d : l.view_dims) numel *= d;
  for (int64_t d : loop_dims) loop *= d;
  if (numel != loop) return false;
  std::vector<int64_t> got = load_strides(l, k.dims.size()), want = strides_of(loop_dims);
  for (size_t d = 0; d < k.dims.size(); ++d) {
    if (d >= outer ? got[d] != 0 : (loop_dims[d] != 1 && got[d] != want[d])) return false;
  }
  return true;
}

std::vector<std::string> SymKernel::loaded_values() const {
  std::vector<std::string> out;
  for (const auto& l : loads)
    if (l.reads_memory() && std::find(out.begin(), out.end(), l.value) == out.end()) out.push_back(l.value);
  return out;
}

namespace {

/// Normalized, sorted axes of a reduction node over rank `rank`.
std::vector<int64_t> reduce_axes(const Node& n, int64_t rank) {
  std::vector<int64_t> axes;
  for (int64_t a : n.attr_ints("axes")) axes.push_back(normalize_axis(a, rank));
  if (axes.empty())
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

bool contains(const std::vector<int64_t>& v, int64_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

/// Maps an output's index map to an input's under numpy broadcasting.
DimMap broadcast_map(const std::vector<int64_t>& in, const std::vector<int64_t>& out, const DimMap& m) {
  return broadcast_index_map(in, out, m);
}

/// True when the expression maps integer operands to an integer: it uses
/// only ops closed over the integers (no division, roots, exp, ...).
bool stays_integer(const SExpr& root) {
  std::vector<const ScalarNode*> stack = {root.get()};
  std::set<const ScalarNode*> seen;
  while (!stack.empty()) {
    const ScalarNode* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    switch (n->op) {
      case ScalarOp::constant:
        if (n->value != std::trunc(n->value)) return false;
        break;
      case ScalarOp::arg: case ScalarOp::add: case ScalarOp::sub: case ScalarOp::mul: case ScalarOp::neg:
      case ScalarOp::abs: case ScalarOp::sign: case ScalarOp::trunc: case ScalarOp::max: case ScalarOp::min:
      case ScalarOp::greater: case ScalarOp::less: case ScalarOp::equal: case ScalarOp::select:
        break;
      default: return false;
    }
    for (const auto& a : n->args) stack.push_back(a.get());
  }
  return true;
}

/// True when `a` and `b` are equal after dropping every size-1 dim.
bool same_without_ones(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> x, y;
  for (int64_t d : a)
    if (d != 1) x.push_back(d);
  for (int64_t d : b)
    if (d != 1) y.push_back(d);
  return x == y;
}

/// A reshape that only adds or drops size-1 dims, as an index map.
DimMap squeeze_map(const std::vector<int64_t>& in, const std::vector<int64_t>& out, const DimMap& m) {
  DimMap r(in.size(), -1);
  size_t j = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;
    while (in[j] == 1) ++j;
    r[j++] = m[i];
  }
  return r;
}

/// True when reading a value through `m` reads the element stored through
/// `stored`: the maps agree on every dim of size > 1.
bool same_element(const DimMap& m, const DimMap& stored, const std::vector<int64_t>& dims) {
  if (m.size() != stored.size()) return false;
  for (size_t d = 0; d < m.size(); ++d)
    if (dims[d] != 1 && m[d] != stored[d]) return false;
  return true;
}

class Builder {
 public:
  Builder(const FusionPlan& plan, const Cluster& c) : p_(plan), g_(*plan.graph), roots_(c.roots.begin(), c.roots.end()) {}

  std::optional<SymKernel> run(const Cluster& c, std::string* why) {
    try {
      if (c.reduction) build_reduction(c.roots);
      else build_elementwise(c.roots);
    } catch (const Refusal& r) {
      *why = r.what;
      return std::nullopt;
    }
    k_.nodes.assign(nodes_.begin(), nodes_.end());
    return std::move(k_);
  }

 private:
  struct Refusal {
    std::string what;
  };

  void build_elementwise(const std::vector<std::string>& roots) {
    k_.dims = g_.type_of(roots.at(0)).dims;
    DimMap id = identity_map(k_.dims.size());
    for (const auto& r : roots) {
      if (g_.type_of(r).dims != k_.dims)
        throw Refusal{"'" + r + "' " + dims_str(g_.type_of(r).dims) + " and '" + roots[0] + "' " + dims_str(k_.dims) +
                      " have different loops"};
      store_map_[r] = id;
    }
    for (const auto& r : roots) k_.stores.push_back({r, id, compute(r, id)});
  }

  /// The row space of a reduction node: kernel dims (kept, then reduced),
  /// how its input's dims follow them, and how its result's dims do.
  struct RowSpace {
    std::vector<int64_t> dims, outer, input_dims, result_dims;
    int reduce_dims = 0;
    bool trailing = false;  // the reduced axes are the input's last ones: rows are contiguous
    double count = 1;  // elements reduced into each result
    DimMap input_map, result_map;
  };

  RowSpace row_space(const Node& n) const {
    RowSpace rs;
    rs.input_dims = g_.type_of(n.inputs[0]).dims;
    rs.result_dims = g_.type_of(n.outputs[0]).dims;
    const std::vector<int64_t>& xd = rs.input_dims;
    std::vector<int64_t> axes = reduce_axes(n, static_cast<int64_t>(xd.size()));
    rs.input_map.assign(xd.size(), -1);
    for (size_t j = 0; j < xd.size(); ++j)
      if (!contains(axes, static_cast<int64_t>(j))) {
        rs.input_map[j] = static_cast<int>(rs.dims.size());
        rs.dims.push_back(xd[j]);
      }
    rs.outer = rs.dims;
    for (int64_t a : axes) {
      rs.input_map[a] = static_cast<int>(rs.dims.size());
      rs.dims.push_back(xd[a]);
      rs.count *= static_cast<double>(xd[a]);
    }
    rs.reduce_dims = static_cast<int>(axes.size());
    rs.trailing = true;
    for (size_t i = 0; i < axes.size(); ++i)
      rs.trailing &= axes[i] == static_cast<int64_t>(xd.size() - axes.size() + i);
    bool keep = n.attr_bool("keepdims");
    for (size_t j = 0, pos = 0; j < xd.size(); ++j) {
      if (!contains(axes, static_cast<int64_t>(j))) rs.result_map.push_back(static_cast<int>(pos++));
      else if (keep) rs.result_map.push_back(-1);
    }
    return rs;
  }

  /// The roots in order: reductions over one row space (the first one's),
  /// each after those it reads; element-wise values over the kept dims or
  /// the reduction's result shape (row stores, computed once per row from
  /// the results); and element-wise values over the whole row space
  /// (per-element stores, computed after every reduction of the row).
  void build_reduction(const std::vector<std::string>& roots) {
    const Node& first = g_.nodes[p_.producer.at(roots.at(0))];
    space_ = row_space(first);
    k_.dims = space_.dims;
    k_.reduce_dims = space_.reduce_dims;
    for (const auto& r : roots) {
      int ni = p_.producer.at(r);
      const std::vector<int64_t>& dims = g_.type_of(r).dims;
      if (p_.kind[ni] == NodeKind::reduction) {
        RowSpace rs = row_space(g_.nodes[ni]);
        if (rs.dims != space_.dims || rs.reduce_dims != space_.reduce_dims || rs.input_map != space_.input_map)
          throw Refusal{"'" + r + "' reduces another row space than '" + roots[0] + "'"};
        store_map_[r] = rs.result_map;
      } else if (dims == space_.outer) {
        store_map_[r] = identity_map(dims.size());
      } else if (dims == space_.result_dims) {
        store_map_[r] = space_.result_map;
      } else if (space_.reduce_dims > 0 && dims == space_.input_dims) {
        store_map_[r] = space_.input_map;
        per_element_.insert(r);
      } else {
        throw Refusal{"'" + r + "' " + dims_str(dims) + " is neither over the kept dims " + dims_str(space_.outer) +
                      " nor over the rows " + dims_str(space_.input_dims) + " of '" + roots[0] + "'"};
      }
    }
    for (const auto& r : roots) {
      int ni = p_.producer.at(r);
      if (p_.kind[ni] == NodeKind::reduction) add_reduction(r, g_.nodes[ni]);
    }
    for (const auto& r : roots) {
      if (p_.kind[p_.producer.at(r)] == NodeKind::reduction) {
        k_.stores.push_back({r, store_map_.at(r), reduced_.at(r)});
      } else {
        bool each = per_element_.count(r) > 0;
        k_.stores.push_back({r, store_map_.at(r), compute(r, store_map_.at(r)), each});
      }
    }
    // Accumulators are the arguments after the last load, and later parts
    // may still add loads: accumulator j is arg(kUnplacedAccumulator + j)
    // until every load is known, then arg(loads + j).
    std::map<const ScalarNode*, SExpr> memo;
    int first_acc = static_cast<int>(k_.loads.size());
    for (auto& red : k_.reductions) red.body = place_accumulators(red.body, first_acc, &memo);
    for (auto& st : k_.stores) st.expr = place_accumulators(st.expr, first_acc, &memo);
  }

  void add_reduction(const std::string& root, const Node& n) {
    nodes_.insert(p_.producer.at(root));
    SExpr body = load_or_compute(n.inputs[0], space_.input_map);
    SExpr value;
    const ReduceKind kind = find_op(n.op)->reduction;
    if (space_.reduce_dims == 0) {  // nothing to reduce: an element-wise copy
      value = kind == ReduceKind::mean ? body / 1.0 : body;
    } else {
      ReduceOp op = kind == ReduceKind::max ? ReduceOp::max : kind == ReduceKind::min ? ReduceOp::min : ReduceOp::sum;
      // Each pass over a row recomputes what its body inlines. Two dependent
      // passes cover every composite (a max, then a sum of exp relative to
      // it); a third would recompute the first two per element, where
      // storing the row once is cheaper.
      // Several passes pay off over contiguous rows; over strided columns
      // (a bias gradient's sum over the batch) each pass would stride through
      // memory where one column-order reduction walks it once.
      if (!k_.reductions.empty() && !space_.trailing)
        throw Refusal{"'" + root + "' would be a second pass over strided rows (the reduced axes are not the last)"};
      int depth = 1;
      for (int a : accumulators_read(body)) depth = std::max(depth, depth_[a] + 1);
      if (depth > kMaxDependentPasses)
        throw Refusal{"'" + root + "' would be the " + std::to_string(depth) +
                      "th dependent pass over the rows of this kernel"};
      depth_.push_back(depth);
      SExpr acc = arg(kUnplacedAccumulator + static_cast<int>(k_.reductions.size()));
      k_.reductions.push_back({op, body});
      value = kind == ReduceKind::mean ? acc / space_.count : acc;
    }
    reduced_[root] = value;
  }

  static constexpr int kUnplacedAccumulator = 1 << 30;
  static constexpr int kMaxDependentPasses = 2;

  /// The accumulators (by index) an expression reads.
  static std::set<int> accumulators_read(const SExpr& e) {
    std::set<int> out;
    std::set<const ScalarNode*> seen;
    std::vector<const ScalarNode*> stack = {e.get()};
    while (!stack.empty()) {
      const ScalarNode* n = stack.back();
      stack.pop_back();
      if (!seen.insert(n).second) continue;
      if (n->op == ScalarOp::arg && n->index >= kUnplacedAccumulator) out.insert(n->index - kUnplacedAccumulator);
      for (const auto& a : n->args) stack.push_back(a.get());
    }
    return out;
  }

  static SExpr place_accumulators(const SExpr& e, int first_acc, std::map<const ScalarNode*, SExpr>* memo) {
    auto it = memo->find(e.get());
    if (it != memo->end()) return it->second;
    SExpr out = e;
    if (e->op == ScalarOp::arg && e->index >= kUnplacedAccumulator) {
      out = arg(first_acc + (e->index - kUnplacedAccumulator));
    } else if (!e->args.empty()) {
      std::vector<SExpr> args;
      bool changed = false;
      for (const auto& a : e->args) {
        args.push_back(place_accumulators(a, first_acc, memo));
        changed |= args.back().get() != a.get();
      }
      if (changed) out = make(e->op, std::move(args));
    }
    return (*memo)[e.get()] = out;
  }

  /// `v` at the element given by `m`: a load when in memory, else computed.
  SExpr load_or_compute(const std::string& v, const DimMap& m) {
    if (roots_.count(v) && store_map_.count(v)) {
      if (!same_element(m, store_map_.at(v), g_.type_of(v).dims))
        throw Refusal{"'" + v + "' is stored by this kernel and read at another element"};
      if (p_.kind[p_.producer.at(v)] == NodeKind::reduction) {
        auto done = reduced_.find(v);
        if (done == reduced_.end()) throw Refusal{"'" + v + "' is reduced by this kernel after it is read"};
        return done->second;
      }
      return compute(v, store_map_.at(v));
    }
    if (p_.in_memory(v)) return load({v, g_.type_of(v).dims, m, -1, std::nullopt});
    return compute(v, m);
  }

  SExpr load(const SymLoad& l) {
    for (size_t i = 0; i < k_.loads.size(); ++i)
      if (k_.loads[i] == l) return arg(static_cast<int>(i));
    k_.loads.push_back(l);
    return arg(static_cast<int>(k_.loads.size() - 1));
  }

  /// Computes an inlined (or root) value from its producer.
  SExpr compute(const std::string& v, const DimMap& m) {
    auto key = std::make_pair(v, m);
    auto memo = memo_.find(key);
    if (memo != memo_.end()) return memo->second;
    int ni = p_.producer.at(v);
    const Node& n = g_.nodes[ni];
    nodes_.insert(ni);
    const std::vector<int64_t>& od = g_.type_of(v).dims;
    SExpr e;
    switch (p_.kind[ni]) {
      case NodeKind::elementwise: {
        std::vector<SExpr> args;
        for (const auto& in : n.inputs) args.push_back(load_or_compute(in, broadcast_map(g_.type_of(in).dims, od, m)));
        e = find_op(n.op)->expr(args, n);
        // The reference rounds each node's result to its dtype; inside a
        // kernel only expressions that can leave the integers need it again.
        if (is_integer(g_.type_of(v).dtype) && !stays_integer(e)) e = trunc(e);
        break;
      }
      case NodeKind::fill: {
        double x = n.attr_float("value");
        DType t = n.attr_dtype("dtype");
        if (is_integer(t)) x = std::trunc(x);
        if (t == DType::boolean) x = x != 0.0 ? 1.0 : 0.0;
        e = SExpr(x);
        break;
      }
      case NodeKind::iota: {
        int64_t axis = normalize_axis(n.attr_int("axis", -1), static_cast<int64_t>(od.size()));
        e = m[axis] >= 0 ? load({"", {}, {}, m[axis], std::nullopt}) : SExpr(0.0);
        break;
      }
      case NodeKind::view: {
        const std::string& in = n.inputs[0];
        e = load_or_compute(in, find_op(n.op)->index_map(n, g_.type_of(in).dims, od, m));
        break;
      }
      case NodeKind::identity: e = load_or_compute(n.inputs[0], m); break;
      case NodeKind::gather: e = gather(n, m); break;
      case NodeKind::random: e = dropout(n, m); break;
      case NodeKind::reshape: e = reshape(n, m); break;
      default:
        throw std::logic_error("loop_builder: value '" + v + "' (" + n.op + ") cannot be computed in a loop");
    }
    memo_[key] = e;
    return e;
  }

  /// A reshape: a relabeling of size-1 dims maps indices directly; any other
  /// reshape reads the contiguous data under it with the new dims.
  SExpr reshape(const Node& n, const DimMap& m) {
    const std::string& in = n.inputs[0];
    const std::vector<int64_t>& id = g_.type_of(in).dims;
    const std::vector<int64_t>& od = g_.type_of(n.outputs[0]).dims;
    if (same_without_ones(id, od)) return load_or_compute(in, squeeze_map(id, od, m));
    std::string base = in;
    while (!p_.in_memory(base)) {
      int pi = p_.producer.at(base);
      NodeKind k = p_.kind[pi];
      if (k != NodeKind::reshape && k != NodeKind::identity)
        throw std::logic_error("loop_builder: reshape '" + n.name + "' of a value not in memory");
      base = g_.nodes[pi].inputs[0];
      nodes_.insert(pi);
    }
    if (roots_.count(base)) throw Refusal{"'" + base + "' is stored by this kernel and read reshaped"};
    return load({base, od, m, -1, std::nullopt});
  }

  /// A gather (extract_patches) inlined: one guarded load of its input, at
  /// the window's input coordinates of the element `m` picks, each an
  /// affine function of the loop indices.
  SExpr gather(const Node& n, const DimMap& m) {
    const std::string& in = n.inputs[0];
    if (!p_.in_memory(in)) throw std::logic_error("loop_builder: gather '" + n.name + "' of a value not in memory");
    if (roots_.count(in)) throw Refusal{"'" + in + "' is stored by this kernel and read through " + n.op};
    const std::vector<int64_t>& in_dims = g_.type_of(in).dims;
    WindowLoop w = find_op(n.op)->window(n, in_dims, g_.type_of(n.outputs[0]).dims).at(0);
    SymLoad l{in, in_dims, {}, -1, std::nullopt};
    for (const WindowCoord& c : w.in) {
      WindowCoord over_loop{c.offset, std::vector<int64_t>(k_.dims.size(), 0)};
      for (size_t d = 0; d < c.coefs.size(); ++d)
        if (m[d] >= 0) over_loop.coefs[m[d]] += c.coefs[d];  // a size-1 dim read at index 0 adds nothing
      l.coords.push_back(std::move(over_loop));
    }
    l.pad = w.pad;
    return load(l);
  }

  /// Dropout in training, as the reference computes it: x / (1 - rate) where
  /// the mask keeps the element, else 0. The mask bit is drawn for the
  /// element's flat index in the dropout's own output, whatever loop reads
  /// it, so the gradient (a dropout with the same key) drops the same ones.
  SExpr dropout(const Node& n, const DimMap& m) {
    float rate = static_cast<float>(n.attr_float("rate"));
    SExpr keep = load({"", g_.type_of(n.outputs[0]).dims, m, -1, DropoutMask{dropout_key(n), rate}});
    SExpr x = load_or_compute(n.inputs[0], m);
    // The scale the reference uses, from the same f32 rate the mask compares against.
    double scale = 1.0 / (1.0 - static_cast<double>(rate));
    return select(keep, x * scale, SExpr(0.0));
  }

  const FusionPlan& p_;
  const Graph& g_;
  std::set<std::string> roots_;
  std::map<std::string, DimMap> store_map_;  // root -> how its dims follow the loop
  std::set<std::string> per_element_;        // roots stored per element of a row
  RowSpace space_;                           // reduction kernels: their row space
  std::map<std::string, SExpr> reduced_;     // reduction root -> its result (over accumulators)
  std::vector<int> depth_;                   // per accumulator: dependent passes up to it
  SymKernel k_;
  std::set<int> nodes_;
  std::map<std::pair<std::string, DimMap>, SExpr> memo_;
};

}  // namespace

std::optional<SymKernel> build_loop(const FusionPlan& plan, const Cluster& cluster, std::string* why) {
  Builder b(plan, cluster);
  return b.run(cluster, why);
}

std::vector<int64_t> loop_dims_of(const FusionPlan& plan, const std::string& root) {
  const Graph& g = *plan.graph;
  auto it = plan.producer.find(root);
  if (it == plan.producer.end() || plan.kind[it->second] != NodeKind::reduction) return g.type_of(root).dims;
  const Node& n = g.nodes[it->second];
  const std::vector<int64_t>& xd = g.type_of(n.inputs[0]).dims;
  std::vector<int64_t> axes = reduce_axes(n, static_cast<int64_t>(xd.size()));
  std::vector<int64_t> dims;
  for (size_t j = 0; j < xd.size(); ++j)
    if (!contains(axes, static_cast<int64_t>(j))) dims.push_back(xd[j]);
  for (int64_t a : axes) dims.push_back(xd[a]);
  return dims;
}

namespace {

void count_expr(const ScalarNode* n, std::set<const ScalarNode*>* seen, int* ops, bool* expensive) {
  if (!seen->insert(n).second) return;
  if (n->op == ScalarOp::arg || n->op == ScalarOp::constant) return;
  bool transcendental = n->op == ScalarOp::exp || n->op == ScalarOp::log || n->op == ScalarOp::log1p ||
                        n->op == ScalarOp::tanh || n->op == ScalarOp::pow;
  *ops += transcendental ? 8 : 1;
  *expensive |= transcendental;
  for (const auto& a : n->args) count_expr(a.get(), seen, ops, expensive);
}

}  // namespace

int own_cost(const FusionPlan& plan, const std::string& value, bool* expensive) {
  *expensive = false;
  auto it = plan.producer.find(value);
  if (it == plan.producer.end()) return 0;
  const Node& n = plan.graph->nodes[it->second];
  switch (plan.kind[it->second]) {
    case NodeKind::elementwise: {
      std::vector<SExpr> args;
      for (size_t i = 0; i < n.inputs.size(); ++i) args.push_back(arg(static_cast<int>(i)));
      SExpr e = find_op(n.op)->expr(args, n);
      std::set<const ScalarNode*> seen;
      int ops = 0;
      count_expr(e.get(), &seen, &ops, expensive);
      return ops;
    }
    case NodeKind::random:
      // Ten Philox rounds per element, like a transcendental op or two.
      *expensive = true;
      return 16;
    default: return 0;
  }
}

}  // namespace dlc
