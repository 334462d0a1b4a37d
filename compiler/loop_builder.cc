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
  return strides;
}

bool reads_in_loop_order(const SymLoad& l, const SymKernel& k) {
  if (l.iota_dim >= 0) return false;
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
    if (l.iota_dim < 0 && std::find(out.begin(), out.end(), l.value) == out.end()) out.push_back(l.value);
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
  DimMap r(in.size(), -1);
  size_t lead = out.size() - in.size();
  for (size_t j = 0; j < in.size(); ++j)
    if (in[j] == out[j + lead]) r[j] = m[j + lead];
  return r;
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
    for (const auto& r : roots) {
      if (g_.type_of(r).dims != k_.dims)
        throw Refusal{"'" + r + "' " + dims_str(g_.type_of(r).dims) + " and '" + roots[0] + "' " + dims_str(k_.dims) +
                      " have different loops"};
      DimMap id = identity_map(k_.dims.size());
      k_.stores.push_back({r, id, compute(r, id)});
    }
  }

  /// roots[0] is the reduction; any further roots are element-wise values
  /// over its kept dims, computed once per output from the reduced value.
  void build_reduction(const std::vector<std::string>& roots) {
    const std::string& root = roots.at(0);
    int ni = p_.producer.at(root);
    const Node& n = g_.nodes[ni];
    nodes_.insert(ni);
    const std::vector<int64_t>& xd = g_.type_of(n.inputs[0]).dims;
    std::vector<int64_t> axes = reduce_axes(n, static_cast<int64_t>(xd.size()));
    DimMap xmap(xd.size());
    for (size_t j = 0; j < xd.size(); ++j)
      if (!contains(axes, static_cast<int64_t>(j))) {
        xmap[j] = static_cast<int>(k_.dims.size());
        k_.dims.push_back(xd[j]);
      }
    outer_dims_ = k_.dims;
    double count = 1;
    for (int64_t a : axes) {
      xmap[a] = static_cast<int>(k_.dims.size());
      k_.dims.push_back(xd[a]);
      count *= static_cast<double>(xd[a]);
    }
    k_.reduce_dims = static_cast<int>(axes.size());
    bool keep = n.attr_bool("keepdims");
    for (size_t j = 0, pos = 0; j < xd.size(); ++j) {
      if (!contains(axes, static_cast<int64_t>(j))) reduced_map_.push_back(static_cast<int>(pos++));
      else if (keep) reduced_map_.push_back(-1);
    }
    reduction_ = root;
    SExpr body = load_or_compute(n.inputs[0], xmap);
    if (axes.empty()) {  // nothing to reduce: an element-wise copy
      reduced_value_ = n.op == "reduce_mean" ? body / 1.0 : body;
    } else {
      k_.reduce = n.op == "reduce_max" ? ReduceOp::max : ReduceOp::sum;
      k_.reduce_body = body;
      // The accumulator is the argument after the last load, and epilogue
      // roots may still add loads: a placeholder stands in until the end.
      SExpr acc = arg(kAccPlaceholder);
      reduced_value_ = n.op == "reduce_mean" ? acc / count : acc;
    }
    k_.stores.push_back({root, reduced_map_, reduced_value_});
    for (size_t i = 1; i < roots.size(); ++i) {
      const std::string& r = roots[i];
      if (g_.type_of(r).dims != outer_dims_)
        throw Refusal{"'" + r + "' " + dims_str(g_.type_of(r).dims) + " is not over the kept dims " +
                      dims_str(outer_dims_) + " of '" + root + "'"};
      DimMap id = identity_map(outer_dims_.size());
      k_.stores.push_back({r, id, compute(r, id)});
    }
    std::map<const ScalarNode*, SExpr> memo;
    for (auto& st : k_.stores) st.expr = replace_placeholder(st.expr, static_cast<int>(k_.loads.size()), &memo);
  }

  static constexpr int kAccPlaceholder = 1 << 30;

  static SExpr replace_placeholder(const SExpr& e, int acc, std::map<const ScalarNode*, SExpr>* memo) {
    auto it = memo->find(e.get());
    if (it != memo->end()) return it->second;
    SExpr out = e;
    if (e->op == ScalarOp::arg && e->index == kAccPlaceholder) {
      out = arg(acc);
    } else if (!e->args.empty()) {
      std::vector<SExpr> args;
      bool changed = false;
      for (const auto& a : e->args) {
        args.push_back(replace_placeholder(a, acc, memo));
        changed |= args.back().get() != a.get();
      }
      if (changed) out = make(e->op, std::move(args));
    }
    return (*memo)[e.get()] = out;
  }

  /// `v` at the element given by `m`: a load when in memory, else computed.
  SExpr load_or_compute(const std::string& v, const DimMap& m) {
    if (v == reduction_) {
      if (m != reduced_map_) throw Refusal{"'" + v + "' is reduced by this kernel and read at another element"};
      return reduced_value_;
    }
    if (roots_.count(v)) {
      const std::vector<int64_t>& loop = reduction_.empty() ? k_.dims : outer_dims_;
      if (m != identity_map(m.size()) || g_.type_of(v).dims != loop)
        throw Refusal{"'" + v + "' is stored by this kernel and read at another element"};
      return compute(v, m);
    }
    if (p_.in_memory(v)) return load({v, g_.type_of(v).dims, m, -1});
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
        // kernel only ops that can leave the integers need it again.
        static const std::set<std::string> closed = {"add", "sub", "mul", "neg", "abs", "sign", "square",
                                                     "maximum", "minimum", "relu", "where", "cast"};
        if (is_integer(g_.type_of(v).dtype) && !closed.count(n.op)) e = trunc(e);
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
      case NodeKind::one_hot: {
        const std::string& labels = n.inputs[0];
        DimMap lm(m.begin(), m.end() - 1);
        SExpr index = m.back() >= 0 ? load({"", {}, {}, m.back()}) : SExpr(0.0);
        e = equal(load_or_compute(labels, lm), index);
        break;
      }
      case NodeKind::view: {
        const std::string& in = n.inputs[0];
        const std::vector<int64_t>& id = g_.type_of(in).dims;
        if (n.op == "broadcast_to") {
          e = load_or_compute(in, broadcast_map(id, od, m));
        } else {  // transpose: output dim i is input dim perm[i]
          std::vector<int64_t> perm = n.attr_ints("perm");
          if (!n.has_attr("perm"))
            for (int64_t i = static_cast<int64_t>(id.size()) - 1; i >= 0; --i) perm.push_back(i);
          DimMap im(id.size(), -1);
          for (size_t i = 0; i < perm.size(); ++i) im[perm[i]] = m[i];
          e = load_or_compute(in, im);
        }
        break;
      }
      case NodeKind::identity: e = load_or_compute(n.inputs[0], m); break;
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
    return load({base, od, m, -1});
  }

  const FusionPlan& p_;
  const Graph& g_;
  std::set<std::string> roots_;
  std::string reduction_;            // the reduction root, in a reduction kernel
  std::vector<int64_t> outer_dims_;  // its kept dims
  DimMap reduced_map_;               // how its result's dims follow the loop
  SExpr reduced_value_;              // its result, over the accumulator
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
    case NodeKind::one_hot: return 1;
    default: return 0;
  }
}

}  // namespace dlc
