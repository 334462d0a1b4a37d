#include "compiler/lower_to_kernels.h"

#include <algorithm>
#include <set>

#include "compiler/loop_builder.h"
#include "compiler/memory_plan.h"
#include "compiler/memory_views.h"
#include "compiler/passes/expand_composites.h"
#include "ir/error.h"
#include "ir/label_dependence.h"
#include "ir/op_registry.h"

namespace dlc {
namespace {

/// One step before buffers exist.
struct Unit {
  enum Kind { loop, gemm, window, collective, conv } kind = loop;
  int node = -1;     // gemm, window or conv node (collective: all of the entry's collective nodes, in `nodes`)
  int cluster = -1;  // loop kernel, or the GEMM's epilogue
  SymKernel kern;    // loop kernel or epilogue
  std::vector<std::string> reads;   // values in memory it reads
  std::vector<std::string> gemm_reads;  // a GEMM's operands (without its epilogue's loads)
  std::vector<std::string> writes;  // values it stores
  std::vector<int> nodes;           // graph nodes it computes
  int anchor = 0;                   // earliest node, for a schedule that follows the graph
};

class Lowerer {
 public:
  Lowerer(const Graph& g, FusionPlan plan) : g_(g), plan_(std::move(plan)) {}

  Program run() {
    prog_.entry = plan_.entry.name;
    prog_.training = plan_.entry.training;
    make_units();
    schedule();
    assign_homes();
    emit();
    prog_.explain.insert(prog_.explain.begin(), plan_.explain.begin(), plan_.explain.end());
    return std::move(prog_);
  }

 private:
  // --- units ------------------------------------------------------------------

  std::string base_of(const std::string& v) const {
    std::optional<MemoryView> view = view_of(plan_, v);
    if (!view) throw std::logic_error("lower_to_kernels: '" + v + "' is not in memory");
    return view->base;
  }

  SymKernel build(int cluster) const {
    std::string why;
    std::optional<SymKernel> k = build_loop(plan_, plan_.clusters[cluster], &why);
    if (!k) throw std::logic_error("lower_to_kernels: cluster no longer builds: " + why);
    return *k;
  }

  bool wanted_by_entry(const std::string& v) const {
    const auto& outs = plan_.entry.outputs;
    if (std::find(outs.begin(), outs.end(), v) != outs.end()) return true;
    for (const auto& u : plan_.entry.updates)
      if (u.second == v) return true;
    return false;
  }

  /// A kernel that loads nothing computes constants: evaluate it now and
  /// keep its results as constant buffers.
  bool fold(const SymKernel& k) {
    if (!k.loads.empty()) return false;
    for (const auto& s : k.stores)
      if (wanted_by_entry(s.value)) return false;
    // Each body is the same at every index: a sum is it times the count.
    int64_t count = 1;
    for (size_t d = k.dims.size() - k.reduce_dims; d < k.dims.size(); ++d) count *= k.dims[d];
    std::vector<double> accs;
    for (const auto& r : k.reductions) {
      double body = eval_scalar(r.body, accs.data());
      accs.push_back(count == 0 ? reduce_init(r.op) : r.op == ReduceOp::sum ? body * static_cast<double>(count) : body);
    }
    for (const auto& s : k.stores) {
      Tensor t(g_.type_of(s.value));
      double v = eval_scalar(s.expr, accs.data());
      for (double& x : t.data) x = v;
      round_to_dtype(t);
      folded_[s.value] = t.data;
      prog_.explain.push_back("%" + s.value + " folded to a constant: its kernel reads no memory");
    }
    return true;
  }

  void make_units() {
    for (size_t c = 0; c < plan_.clusters.size(); ++c) {
      if (plan_.clusters[c].gemm >= 0) continue;
      Unit u;
      u.kind = Unit::loop;
      u.cluster = static_cast<int>(c);
      u.kern = build(u.cluster);
      if (fold(u.kern)) continue;
      u.reads = u.kern.loaded_values();
      u.writes = plan_.clusters[c].roots;
      u.nodes = u.kern.nodes;
      units_.push_back(std::move(u));
    }
    for (size_t k = 0; k < g_.nodes.size(); ++k) {
      if (!plan_.live[k] || plan_.kind[k] != NodeKind::gemm) continue;
      const Node& n = g_.nodes[k];
      Unit u;
      u.node = static_cast<int>(k);
      u.writes = n.outputs;
      u.nodes = {u.node};
      u.kind = Unit::gemm;
      for (const auto& in : n.inputs) u.reads.push_back(base_of(in));
      u.gemm_reads = u.reads;
      for (size_t c = 0; c < plan_.clusters.size(); ++c)
        if (plan_.clusters[c].gemm == static_cast<int>(k)) {
          u.cluster = static_cast<int>(c);
          u.kern = build(u.cluster);
          for (const auto& l : u.kern.loaded_values())
            if (l != n.outputs[0]) u.reads.push_back(l);
          u.writes.insert(u.writes.end(), plan_.clusters[c].roots.begin(), plan_.clusters[c].roots.end());
          u.nodes.insert(u.nodes.end(), u.kern.nodes.begin(), u.kern.nodes.end());
        }
      units_.push_back(std::move(u));
    }
    for (size_t k = 0; k < g_.nodes.size(); ++k) {
      if (!plan_.live[k] || plan_.kind[k] != NodeKind::window) continue;
      Unit u;
      u.kind = Unit::window;
      u.node = static_cast<int>(k);
      u.writes = g_.nodes[k].outputs;
      u.nodes = {u.node};
      u.reads = {base_of(g_.nodes[k].inputs[0])};
      units_.push_back(std::move(u));
    }
    for (size_t k = 0; k < g_.nodes.size(); ++k) {
      if (!plan_.live[k] || plan_.kind[k] != NodeKind::convolution) continue;
      Unit u;
      u.kind = Unit::conv;
      u.node = static_cast<int>(k);
      u.writes = g_.nodes[k].outputs;
      u.nodes = {u.node};
      for (const auto& in : g_.nodes[k].inputs) u.reads.push_back(base_of(in));
      units_.push_back(std::move(u));
    }
    make_collective_unit();
    drop_internal_stores();
    for (size_t i = 0; i < units_.size(); ++i) {
      Unit& u = units_[i];
      std::sort(u.nodes.begin(), u.nodes.end());
      u.anchor = u.nodes.empty() ? 0 : u.nodes.front();
      for (const auto& w : u.writes) writer_[w] = static_cast<int>(i);
    }
  }

  /// Every collective node of the entry in one step: a data-parallel step
  /// then pays the network's latency once, whatever its parameter count.
  void make_collective_unit() {
    Unit u;
    u.kind = Unit::collective;
    for (size_t k = 0; k < g_.nodes.size(); ++k) {
      if (!plan_.live[k] || plan_.kind[k] != NodeKind::collective) continue;
      const Node& n = g_.nodes[k];
      u.nodes.push_back(static_cast<int>(k));
      u.reads.push_back(base_of(n.inputs[0]));
      u.writes.push_back(n.outputs[0]);
    }
    if (!u.nodes.empty()) units_.push_back(std::move(u));
  }

  /// A root that only its own kernel uses (a bias gradient consumed by the
  /// update in the same kernel) needs no store.
  void drop_internal_stores() {
    std::set<std::string> read;
    for (const auto& u : units_) read.insert(u.reads.begin(), u.reads.end());
    for (auto& u : units_) {
      if (u.cluster < 0) continue;
      auto unused = [&](const std::string& v) {
        bool is_gemm_result = u.kind == Unit::gemm && v == u.writes[0];
        return !is_gemm_result && !read.count(v) && !wanted_by_entry(v);
      };
      auto& st = u.kern.stores;
      std::vector<SymStore> kept;
      for (const auto& x : st) {
        if (!unused(x.value)) kept.push_back(x);
        else prog_.explain.push_back("%" + x.value + " not stored: only its own kernel uses it");
      }
      if (kept.empty()) continue;  // cannot happen for a live kernel; keep it whole
      st = kept;
      u.writes.erase(std::remove_if(u.writes.begin(), u.writes.end(), unused), u.writes.end());
    }
  }

  // --- schedule -------------------------------------------------------------------

  /// The state whose new value unit `u` computes, if any, else "".
  std::vector<std::string> states_written(int u) const {
    std::vector<std::string> out;
    for (const auto& [s, v] : plan_.entry.updates) {
      auto it = writer_.find(v);
      if (it != writer_.end() && it->second == u) out.push_back(s);
    }
    return out;
  }

  void schedule() {
    size_t n = units_.size();
    std::vector<std::set<int>> succ(n);
    std::vector<int> indeg(n, 0);
    for (size_t i = 0; i < n; ++i)
      for (const auto& r : units_[i].reads) {
        auto it = writer_.find(r);
        if (it != writer_.end() && it->second != static_cast<int>(i) && succ[it->second].insert(static_cast<int>(i)).second)
          ++indeg[i];
      }
    std::map<std::string, std::set<int>> readers;  // state -> units reading its old value
    for (size_t i = 0; i < n; ++i)
      for (const auto& r : units_[i].reads)
        if (g_.find_param(r)) readers[r].insert(static_cast<int>(i));
    std::vector<bool> done(n, false);
    auto deferred = [&](int u) {
      for (const auto& s : states_written(u))
        for (int r : readers[s])
          if (r != u && !done[r]) return true;
      return false;
    };
    for (size_t step = 0; step < n; ++step) {
      int best = -1;
      bool best_deferred = true;
      for (size_t i = 0; i < n; ++i) {
        if (done[i] || indeg[i] != 0) continue;
        bool d = deferred(static_cast<int>(i));
        if (best < 0 || (best_deferred && !d) ||
            (d == best_deferred && units_[i].anchor < units_[best].anchor)) {
          best = static_cast<int>(i);
          best_deferred = d;
        }
      }
      if (best < 0) throw std::logic_error("lower_to_kernels: the steps form a cycle");
      done[best] = true;
      order_.push_back(best);
      for (int s : succ[best]) --indeg[s];
    }
    pos_.assign(n, 0);
    for (size_t i = 0; i < order_.size(); ++i) pos_[order_[i]] = static_cast<int>(i);
  }

  // --- buffers ---------------------------------------------------------------------

  int add_buffer(const std::string& name, BufferKind kind, const TensorType& t) {
    Buffer b;
    b.id = static_cast<int>(prog_.buffers.size());
    b.name = name;
    b.kind = kind;
    b.dtype = t.dtype;
    b.dims = t.dims;
    b.numel = t.numel();
    prog_.buffers.push_back(b);
    return b.id;
  }

  int source_buffer(const std::string& v) {
    auto it = home_.find(v);
    if (it != home_.end()) return it->second;
    int id;
    if (g_.find_input(v)) {
      id = add_buffer(v, BufferKind::input, g_.type_of(v));
    } else if (g_.find_param(v)) {
      id = add_buffer(v, BufferKind::state, g_.type_of(v));
    } else if (folded_.count(v)) {
      id = add_buffer(v, BufferKind::constant, g_.type_of(v));
      prog_.buffers[id].data = folded_.at(v);
    } else {  // a `values` constant
      const Node& n = g_.nodes[plan_.producer.at(v)];
      id = add_buffer(v, BufferKind::constant, g_.type_of(v));
      Tensor t(g_.type_of(v));
      const auto& vals = n.attrs.at("values").floats().values();
      for (int64_t i = 0; i < t.numel(); ++i) t[i] = vals[static_cast<int>(i)];
      round_to_dtype(t);
      prog_.buffers[id].data = t.data;
    }
    return home_[v] = id;
  }

  int state_buffer(const std::string& s) {
    int id = prog_.find_buffer(BufferKind::state, s);
    return id >= 0 ? id : source_buffer(s);
  }

  /// Whether unit `u` may write state `s`'s new value straight into it;
  /// "" when it may, else why not.
  std::string in_place_refusal(const std::string& s, const std::string& v, int u) const {
    const Unit& w = units_[u];
    for (size_t i = 0; i < units_.size(); ++i) {
      if (static_cast<int>(i) == u) continue;
      const auto& r = units_[i].reads;
      if (std::find(r.begin(), r.end(), s) != r.end() && pos_[i] > pos_[u])
        return "step " + std::to_string(pos_[i]) + " reads the old value later";
    }
    bool reads_self = std::find(w.reads.begin(), w.reads.end(), s) != w.reads.end();
    if (!reads_self) return "";
    // A GEMM's epilogue may update in place like a loop kernel when the
    // product itself does not read the state.
    bool epilogue_store = w.kind == Unit::gemm && v != w.writes[0] &&
                          std::find(w.gemm_reads.begin(), w.gemm_reads.end(), s) == w.gemm_reads.end();
    if (w.kind != Unit::loop && !epilogue_store) return "its own step reads the old value";
    // The store of v is in (outer) loop order, so every read of the old
    // value must be too: element i is read, then overwritten.
    for (const auto& st : w.kern.stores)
      if (st.value == v && st.dim_of != identity_map(st.dim_of.size())) return "its kernel stores it out of order";
    for (const auto& l : w.kern.loads)
      if (l.value == s && !reads_in_loop_order(l, w.kern)) return "its kernel reads the old value at other elements";
    return "";
  }

  void assign_homes() {
    for (const auto& u : units_)
      for (const auto& r : u.reads)
        if (plan_.is_source(r) || !writer_.count(r)) source_buffer(r);
    for (const auto& o : plan_.entry.outputs)
      if (!outputs_.count(o)) outputs_[o] = add_buffer(o, BufferKind::output, g_.type_of(o));
    for (const auto& [s, v] : plan_.entry.updates) state_buffer(s);
    for (int u : order_) {
      for (const auto& v : units_[u].writes) {
        if (home_.count(v)) continue;
        if (outputs_.count(v)) home_[v] = outputs_.at(v);
        for (const auto& [s, value] : plan_.entry.updates) {
          if (value != v) continue;
          std::string refusal = in_place_refusal(s, v, u);
          bool loop_store = units_[u].kind == Unit::loop || (units_[u].kind == Unit::gemm && v != units_[u].writes[0]);
          if (refusal.empty() && !home_.count(v)) {
            home_[v] = state_buffer(s);
            prog_.explain.push_back("%" + v + " written in place into state '" + s + "'");
          } else if (refusal.empty() && loop_store) {
            extra_stores_[v].push_back(state_buffer(s));
            prog_.explain.push_back("%" + v + " also stored in place into state '" + s + "'");
          } else {
            end_copies_.emplace_back(v, s);
            prog_.explain.push_back("%" + v + " copied into state '" + s + "' at the end: " +
                                    (refusal.empty() ? std::string("its buffer is an entry output") : refusal));
          }
        }
        if (!home_.count(v) && units_[u].kind == Unit::collective) {
          int same = reducible_in_place(u, v);
          if (same >= 0) home_[v] = same;
        }
        if (!home_.count(v)) home_[v] = add_buffer(v, BufferKind::temp, g_.type_of(v));
      }
    }
  }

  /// The buffer of the value the collective unit `u` averages into `v`, when
  /// the mean can replace it there: a temp that no later step reads and the
  /// entry does not return. Else -1. (A gradient and its mean then share
  /// their bytes: a data-parallel step's arena grows by no second copy.)
  int reducible_in_place(int u, const std::string& v) const {
    const Unit& c = units_[u];
    size_t i = static_cast<size_t>(std::find(c.writes.begin(), c.writes.end(), v) - c.writes.begin());
    if (i >= c.reads.size()) return -1;
    const std::string& in = c.reads[i];
    auto it = home_.find(in);
    if (it == home_.end() || prog_.buffers[it->second].kind != BufferKind::temp || wanted_by_entry(in)) return -1;
    if (std::count(c.reads.begin(), c.reads.end(), in) != 1) return -1;
    for (size_t k = 0; k < units_.size(); ++k) {
      if (static_cast<int>(k) == u || pos_[k] < pos_[u]) continue;
      const auto& r = units_[k].reads;
      if (std::find(r.begin(), r.end(), in) != r.end()) return -1;
    }
    return it->second;
  }

  // --- emission ---------------------------------------------------------------------

  /// Element offset 0 and the strides of dense `view_dims` seen through `dim_of`.
  static Access dense_access(const std::vector<int64_t>& view_dims, const DimMap& dim_of, size_t rank) {
    Access a;
    a.strides.assign(rank, 0);
    std::vector<int64_t> rs = strides_of(view_dims);
    for (size_t j = 0; j < dim_of.size(); ++j)
      if (dim_of[j] >= 0) a.strides[dim_of[j]] += rs[j];
    return a;
  }

  Access access(const std::string& v, const std::vector<int64_t>& view_dims, const DimMap& dim_of, size_t rank,
                int buffer = -1) const {
    Access a = dense_access(view_dims, dim_of, rank);
    a.buffer = buffer >= 0 ? buffer : home_.at(v);
    return a;
  }

  /// A gather's load: the value's dense data at affine coordinates, each
  /// guarded to lie in its dim (as window_steps reads a window's input).
  Access guarded_access(const SymLoad& l, size_t rank) const {
    Access a;
    a.buffer = home_.at(l.value);
    a.strides.assign(rank, 0);
    a.pad = l.pad;
    std::vector<int64_t> rs = strides_of(l.view_dims);
    for (size_t j = 0; j < l.coords.size(); ++j) add_guarded_coord(l.coords[j], l.view_dims[j], rs[j], &a);
    return a;
  }

  LoopKernel loop_kernel(const SymKernel& k) const {
    LoopKernel out;
    out.dims = k.dims;
    out.reduce_dims = k.reduce_dims;
    out.reductions = k.reductions;
    for (const auto& l : k.loads) {
      if (l.iota_dim >= 0) {
        Access a;
        a.strides.assign(k.dims.size(), 0);
        a.iota_dim = l.iota_dim;
        out.loads.push_back(a);
      } else if (l.mask) {
        Access a = dense_access(l.view_dims, l.dim_of, k.dims.size());
        a.mask = l.mask;
        out.loads.push_back(a);
      } else if (!l.coords.empty()) {
        out.loads.push_back(guarded_access(l, k.dims.size()));
      } else {
        out.loads.push_back(access(l.value, l.view_dims, l.dim_of, k.dims.size()));
      }
    }
    for (const auto& s : k.stores) {
      const std::vector<int64_t>& dims = g_.type_of(s.value).dims;
      out.stores.push_back({access(s.value, dims, s.dim_of, k.dims.size()), s.expr, s.per_element});
      auto extra = extra_stores_.find(s.value);
      if (extra != extra_stores_.end())
        for (int b : extra->second)
          out.stores.push_back({access(s.value, dims, s.dim_of, k.dims.size(), b), s.expr, s.per_element});
    }
    return out;
  }

  GemmOperand operand(const std::string& v, bool transposed) const {
    std::optional<MemoryView> view = view_of(plan_, v);
    std::optional<GemmLayout> layout = view ? gemm_layout(*view) : std::nullopt;
    if (!layout) throw std::logic_error("lower_to_kernels: GEMM operand '" + v + "' has no BLAS layout");
    GemmOperand o;
    o.buffer = home_.at(view->base);
    o.offset = layout->offset;
    o.ld = layout->ld;
    o.trans = layout->trans != transposed;
    return o;
  }

  std::string node_list(const std::vector<int>& nodes) const {
    std::string s;
    for (int k : nodes) {
      if (plan_.kind[k] == NodeKind::fill) continue;  // constants clutter the list
      s += (s.empty() ? "" : ", ") + g_.nodes[k].op + " %" + g_.nodes[k].outputs[0];
    }
    return s;
  }

  Step unit_step(const Unit& u) {
    Step st;
    for (int k : u.nodes) st.nodes.push_back(g_.nodes[k].name);
    for (const auto& w : u.writes) st.values.emplace_back(w, home_.at(w));
    std::string label = "kernel " + std::to_string(prog_.steps.size()) + ": ";
    if (u.kind == Unit::loop) {
      st.body = loop_kernel(u.kern);
      bool per_element = false;
      for (const auto& s : u.kern.stores) per_element |= s.per_element;
      std::string what = !u.kern.reductions.empty() && (u.kern.reductions.size() > 1 || per_element)
                             ? " (row kernel: " + std::to_string(u.kern.reductions.size()) + " reduction(s) per row" +
                                   (per_element ? ", then per-element stores)" : ")")
                         : !u.kern.reductions.empty() && plan_.clusters[u.cluster].roots.size() > 1
                             ? " (reduction with its element-wise producers and an element-wise epilogue)"
                         : !u.kern.reductions.empty() ? " (reduction with its element-wise producers)"
                                                      : " (elementwise group)";
      prog_.explain.push_back(label + node_list(u.nodes) + what);
      return st;
    }
    if (u.kind == Unit::collective) {
      AllReduceStep r;
      int64_t bytes = 0;
      for (size_t i = 0; i < u.reads.size(); ++i) {
        r.src.push_back(home_.at(u.reads[i]));
        r.dst.push_back(home_.at(u.writes[i]));
        bytes += prog_.buffers[r.src.back()].bytes();
      }
      st.body = r;
      prog_.explain.push_back(label + "all_reduce_mean of " + std::to_string(r.src.size()) + " value(s), " +
                              std::to_string(bytes) + " bytes, in one bucket (the mean over the processes of a "
                              "data-parallel run; the optimizer's updates read its results, so they run after it)");
      return st;
    }
    const Node& n = g_.nodes[u.node];
    const std::string& out = n.outputs[0];
    if (u.kind == Unit::gemm) {
      GemmCall gc;
      const TensorType& t = g_.type_of(out);
      bool ta = n.attr_bool("transpose_a"), tb = n.attr_bool("transpose_b");
      gc.m = t.dims[0];
      gc.n = t.dims[1];
      gc.k = g_.type_of(n.inputs[0]).dims[ta ? 0 : 1];
      gc.a = operand(n.inputs[0], ta);
      gc.b = operand(n.inputs[1], tb);
      gc.c.buffer = home_.at(out);
      gc.c.ld = gc.n;
      std::string epi;
      if (u.cluster >= 0) {
        gc.epilogue = loop_kernel(u.kern);
        std::vector<int> rest(u.nodes.begin(), u.nodes.end());
        rest.erase(std::remove(rest.begin(), rest.end(), u.node), rest.end());
        epi = ", epilogue: " + node_list(rest);
      }
      st.body = gc;
      prog_.explain.push_back(label + "matmul %" + out + " kept separate: library call (GEMM)" + epi);
      return st;
    }
    if (u.kind == Unit::conv) {
      st.body = conv_call(n);
      prog_.explain.push_back(label + n.op + " %" + out + " kept separate: library call (convolution)");
      return st;
    }
    throw std::logic_error("lower_to_kernels: unit of unknown kind");
  }

  /// A dense operand in memory: its buffer and first element.
  ConvOperand conv_operand(const std::string& v) const {
    std::optional<MemoryView> view = view_of(plan_, v);
    if (!view || !view->dense()) throw std::logic_error("lower_to_kernels: convolution operand '" + v + "' is not dense");
    return {home_.at(view->base), view->offset};
  }

  /// The library call of a convolution pass; its operands as the op's
  /// inputs and output name them (ir/convolution.h).
  ConvCall conv_call(const Node& n) const {
    const OpDef* def = find_op(n.op);
    ConvCall c;
    c.pass = def->conv_pass;
    c.geometry = def->conv_geometry(n, {g_.type_of(n.inputs[0]).dims, g_.type_of(n.inputs[1]).dims});
    ConvOperand first = conv_operand(n.inputs[0]), second = conv_operand(n.inputs[1]);
    ConvOperand out{home_.at(n.outputs[0]), 0};
    switch (c.pass) {
      case ConvPass::forward: c.image = first, c.weight = second, c.result = out; break;
      case ConvPass::input_grad: c.result = first, c.weight = second, c.image = out; break;
      case ConvPass::weight_grad: c.image = first, c.result = second, c.weight = out; break;
    }
    return c;
  }

  /// `c` over loop dims, through the element strides of the dims it indexes:
  /// the offset and per-loop-dim strides of an affine access.
  static void add_coord(const WindowCoord& c, int64_t stride, Access* a) {
    a->offset += stride * c.offset;
    for (size_t d = 0; d < c.coefs.size(); ++d) a->strides[d] += stride * c.coefs[d];
  }

  /// `c` as add_coord, read only where it lies in [0, extent).
  static void add_guarded_coord(const WindowCoord& c, int64_t extent, int64_t stride, Access* a) {
    add_coord(c, stride, a);
    a->guards.push_back({c.offset, c.coefs, extent, stride});
  }

  /// A window node's loops, each a loop kernel: a guarded load of the input
  /// (through its memory view), summed over the reduced dims if any, stored
  /// at the output coordinates. Several loops (fold_patches' phases) write
  /// disjoint parts of one output; the last step lists the value.
  std::vector<Step> window_steps(const Unit& u) {
    const Node& n = g_.nodes[u.node];
    const std::string &in = n.inputs[0], &out = n.outputs[0];
    std::optional<MemoryView> view = view_of(plan_, in);
    if (!view) throw std::logic_error("lower_to_kernels: window input '" + in + "' is not in memory");
    const std::vector<int64_t>& in_dims = g_.type_of(in).dims;
    const std::vector<int64_t>& out_dims = g_.type_of(out).dims;
    std::vector<int64_t> out_strides = strides_of(out_dims);
    std::vector<WindowLoop> loops = find_op(n.op)->window(n, in_dims, out_dims);
    std::vector<Step> steps;
    for (const WindowLoop& w : loops) {
      LoopKernel k;
      k.dims = w.dims;
      k.reduce_dims = w.reduce_dims;
      size_t rank = w.dims.size();
      Access load;
      load.buffer = home_.at(view->base);
      load.offset = view->offset;
      load.strides.assign(rank, 0);
      load.pad = w.pad;
      for (size_t d = 0; d < w.in.size(); ++d) add_guarded_coord(w.in[d], in_dims[d], view->strides[d], &load);
      k.loads.push_back(load);
      Access at;
      at.buffer = home_.at(out);
      at.strides.assign(rank, 0);
      for (size_t d = 0; d < w.out.size(); ++d) add_coord(w.out[d], out_strides[d], &at);
      if (w.reduce_dims > 0) {
        k.reductions.push_back({ReduceOp::sum, arg(0)});
        k.stores.push_back({at, arg(1), false});
      } else {
        k.stores.push_back({at, arg(0), false});
      }
      Step st;
      st.body = k;
      st.nodes = {n.name};
      steps.push_back(std::move(st));
    }
    if (steps.empty()) throw std::logic_error("lower_to_kernels: window node '" + n.name + "' has no loops");
    steps.back().values.emplace_back(out, home_.at(out));
    std::string label = "kernel " + std::to_string(prog_.steps.size());
    if (steps.size() > 1) label += "-" + std::to_string(prog_.steps.size() + steps.size() - 1);
    prog_.explain.push_back(label + ": " + n.op + " %" + out + " (window" +
                            (steps.size() > 1 ? ", " + std::to_string(steps.size()) + " loops, one per output phase" : "") +
                            "; reads %" + in + " through guarded indices)");
    return steps;
  }

  void copy(int src, int dst, const std::string& why) {
    Step st;
    st.body = CopyStep{src, dst, 0, 0, prog_.buffers[src].numel};
    st.values.emplace_back(prog_.buffers[src].name, dst);
    prog_.steps.push_back(std::move(st));
    prog_.explain.push_back("copy " + prog_.buffers[src].name + " -> " + buffer_kind_name(prog_.buffers[dst].kind) +
                            " '" + prog_.buffers[dst].name + "': " + why);
  }

  void emit() {
    // Outputs that no step computes (inputs, parameters, constants) are
    // copied first, before any state changes.
    for (const auto& [o, id] : outputs_)
      if (!writer_.count(o)) copy(source_buffer(base_of(o)), id, "entry output held elsewhere");
    // An update to an input's or another state's current value snapshots it
    // first, since that state may change during the step.
    std::vector<std::pair<int, std::string>> snapshots;
    for (const auto& [s, v] : plan_.entry.updates) {
      if (writer_.count(v) || v == s) continue;
      int src = source_buffer(base_of(v));
      int snap = add_buffer(v + ".snapshot", BufferKind::temp, g_.type_of(v));
      copy(src, snap, "snapshot for the update of state '" + s + "'");
      snapshots.emplace_back(snap, s);
    }
    for (int u : order_) {
      if (units_[u].kind != Unit::window) {
        prog_.steps.push_back(unit_step(units_[u]));
        continue;
      }
      for (Step& st : window_steps(units_[u])) prog_.steps.push_back(std::move(st));
    }
    for (const auto& [v, s] : end_copies_) copy(home_.at(v), state_buffer(s), "new value of state '" + s + "'");
    for (const auto& [snap, s] : snapshots) copy(snap, state_buffer(s), "new value of state '" + s + "'");
  }

  const Graph& g_;
  FusionPlan plan_;
  Program prog_;
  std::vector<Unit> units_;
  std::map<std::string, int> writer_;  // value -> unit storing it
  std::vector<int> order_;             // units in schedule order
  std::vector<int> pos_;               // unit -> position in order_
  std::map<std::string, int> home_;    // value in memory -> buffer
  std::map<std::string, int> outputs_;
  std::map<std::string, std::vector<int>> extra_stores_;
  std::map<std::string, std::vector<double>> folded_;  // constant kernels evaluated at compile time
  std::vector<std::pair<std::string, std::string>> end_copies_;  // value, state
};

}  // namespace

Program lower_to_kernels(const Graph& g, const EntrySpec& e) {
  if (has_composites(g)) {  // a graph straight from a builder, not from the pipeline
    Graph expanded = g;
    expand_composites(expanded);
    return lower_to_kernels(plan_fusion(expanded, e));
  }
  return lower_to_kernels(plan_fusion(g, e));  // the plan's graph: training switches resolved
}

Program lower_to_kernels(const FusionPlan& plan) {
  if (!plan.graph) throw Error("internal error: lower_to_kernels: the fusion plan has no graph");
  return Lowerer(*plan.graph, plan).run();
}

Program build_program(const Graph& g, const EntrySpec& e) {
  Program p = lower_to_kernels(g, e);
  plan_memory(p);
  check_program(p);
  return p;
}

std::vector<EntrySpec> entry_specs(const Model& m) {
  std::vector<EntrySpec> out;
  // predict is fed no labels, so an output that needs one (the loss, say)
  // comes only from train_step.
  EntrySpec predict{"predict", {}, {}, false};
  for (const auto& o : m.graph.outputs)
    if (label_inputs_needed(m.graph, o).empty()) predict.outputs.push_back(o);
  out.push_back(predict);
  if (m.has_training()) {
    EntrySpec t{"train_step", {m.training.loss()}, m.updates, true};
    for (const auto& o : m.graph.outputs)
      if (o != m.training.loss()) t.outputs.push_back(o);
    out.push_back(t);
  }
  return out;
}

EntrySpec entry_spec(const proto::EntryPoint& ep) {
  EntrySpec e;
  e.name = ep.name();
  e.outputs.assign(ep.outputs().begin(), ep.outputs().end());
  for (const auto& u : ep.updates()) e.updates.emplace_back(u.param(), u.value());
  e.training = ep.name() == "train_step";
  return e;
}

}  // namespace dlc
