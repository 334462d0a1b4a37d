#include "reference/kernel_ir_eval.h"

#include <cmath>
#include <limits>

#include "ir/error.h"
#include "ir/philox.h"
#include "ir/scalar_walk.h"

namespace dlc {
namespace {

/// An expression DAG flattened so each shared node is evaluated once.
class FlatExpr {
 public:
  explicit FlatExpr(const SExpr& root) { root_ = add(root.get()); }

  double eval(const std::vector<double>& args) const {
    std::vector<double> r(nodes_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const Item& it = nodes_[i];
      if (it.node->op == ScalarOp::arg) {
        r[i] = args.at(static_cast<size_t>(it.node->index));
        continue;
      }
      if (it.node->op == ScalarOp::constant) {
        r[i] = it.node->value;
        continue;
      }
      // eval_scalar's semantics, applied to the already computed operands.
      double a[3] = {0, 0, 0};
      for (size_t j = 0; j < it.args.size(); ++j) a[j] = r[it.args[j]];
      r[i] = eval_scalar(it.on_operands, a);
    }
    return r[root_];
  }

 private:
  struct Item {
    const ScalarNode* node;
    std::vector<size_t> args;
    SExpr on_operands;  // the node's op over arg(0..), built once
  };
  // Operands first, without recursion (expressions may be deep).
  size_t add(const ScalarNode* root) {
    for (const ScalarNode* n : scalar_post_order({root})) {
      Item item{n, {}, {}};
      std::vector<SExpr> ops;
      for (const auto& a : n->args) {
        item.args.push_back(index_.at(a.get()));
        ops.push_back(arg(static_cast<int>(ops.size())));
      }
      if (n->op != ScalarOp::arg && n->op != ScalarOp::constant) item.on_operands = make(n->op, ops);
      nodes_.push_back(item);
      index_[n] = nodes_.size() - 1;
    }
    return index_.at(root);
  }
  std::vector<Item> nodes_;
  std::map<const ScalarNode*, size_t> index_;
  size_t root_ = 0;
};

double to_dtype(DType t, double v) {
  if (is_integer(t)) return std::trunc(v);
  if (t == DType::boolean) return v != 0.0 ? 1.0 : 0.0;
  return v;
}

/// Calls fn(idx) for every index of `dims` in row-major order.
template <typename Fn>
void for_each_index(const std::vector<int64_t>& dims, Fn fn) {
  for (int64_t d : dims)
    if (d == 0) return;
  std::vector<int64_t> idx(dims.size(), 0);
  while (true) {
    fn(idx);
    int64_t d = static_cast<int64_t>(dims.size()) - 1;
    for (; d >= 0; --d) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

}  // namespace

ProgramEvaluator::ProgramEvaluator(Program p) : p_(std::move(p)) {
  check_program(p_);
  own_.resize(p_.buffers.size());
  for (const auto& b : p_.buffers) {
    if (b.kind == BufferKind::temp) continue;
    own_[b.id] = b.kind == BufferKind::constant ? b.data : std::vector<double>(static_cast<size_t>(b.numel), 0.0);
  }
  arena_.assign(static_cast<size_t>(p_.arena_bytes), std::numeric_limits<double>::quiet_NaN());
}

double ProgramEvaluator::read(int buffer, int64_t i) const {
  const Buffer& b = p_.buffers[buffer];
  if (b.kind != BufferKind::temp) return own_[buffer][static_cast<size_t>(i)];
  return arena_[static_cast<size_t>(b.offset + i * dtype_size(b.dtype))];
}

void ProgramEvaluator::write(int buffer, int64_t i, double v) {
  const Buffer& b = p_.buffers[buffer];
  v = to_dtype(b.dtype, v);
  if (b.kind != BufferKind::temp) {
    own_[buffer][static_cast<size_t>(i)] = v;
    return;
  }
  int64_t size = dtype_size(b.dtype), at = b.offset + i * size;
  arena_[static_cast<size_t>(at)] = v;
  // The element's other bytes are spoiled, so a differently typed temp
  // overlapping them reads NaN rather than a plausible number.
  for (int64_t k = 1; k < size; ++k) arena_[static_cast<size_t>(at + k)] = std::numeric_limits<double>::quiet_NaN();
}

Tensor ProgramEvaluator::buffer(int id) const {
  const Buffer& b = p_.buffers.at(id);
  Tensor t({b.dtype, b.dims});
  for (int64_t i = 0; i < b.numel; ++i) t[i] = read(id, i);
  return t;
}

void ProgramEvaluator::set_state(const std::string& name, const Tensor& value) {
  int id = p_.find_buffer(BufferKind::state, name);
  if (id < 0) throw Error("program '" + p_.entry + "' has no state '" + name + "'");
  if (value.numel() != p_.buffers[id].numel) throw Error("state '" + name + "' has the wrong number of elements");
  for (int64_t i = 0; i < value.numel(); ++i) write(id, i, value[i]);
}

Tensor ProgramEvaluator::state(const std::string& name) const {
  int id = p_.find_buffer(BufferKind::state, name);
  if (id < 0) throw Error("program '" + p_.entry + "' has no state '" + name + "'");
  return buffer(id);
}

std::map<std::string, Tensor> ProgramEvaluator::run(const std::map<std::string, Tensor>& inputs,
                                                    const EvalContext& ctx) {
  for (const auto& b : p_.buffers) {
    if (b.kind != BufferKind::input) continue;
    auto it = inputs.find(b.name);
    if (it == inputs.end()) throw Error("program '" + p_.entry + "': no value given for input '" + b.name + "'");
    if (it->second.numel() != b.numel)
      throw Error("program '" + p_.entry + "': input '" + b.name + "' has " + std::to_string(it->second.numel()) +
                  " elements, expected " + std::to_string(b.numel));
    for (int64_t i = 0; i < b.numel; ++i) write(b.id, i, it->second[i]);
  }
  for (size_t s = 0; s < p_.steps.size(); ++s) {
    run_step(p_.steps[s], ctx);
    if (after_step) after_step(static_cast<int>(s));
  }
  std::map<std::string, Tensor> out;
  for (const auto& b : p_.buffers)
    if (b.kind == BufferKind::output) out[b.name] = buffer(b.id);
  return out;
}

namespace {

/// Whether every guard of a load holds at iteration index `idx`.
bool guards_hold(const Access& a, const std::vector<int64_t>& idx) {
  for (const auto& g : a.guards) {
    int64_t c = g.offset;
    for (size_t d = 0; d < idx.size(); ++d) c += idx[d] * g.coefs[d];
    if (c < 0 || c >= g.extent) return false;
  }
  return true;
}

}  // namespace

void ProgramEvaluator::run_loop(const LoopKernel& k, const EvalContext& ctx) {
  size_t rank = k.dims.size();
  size_t outer_rank = rank - static_cast<size_t>(k.reduce_dims);
  std::vector<int64_t> outer(k.dims.begin(), k.dims.begin() + static_cast<std::ptrdiff_t>(outer_rank));
  std::vector<int64_t> inner(k.dims.begin() + static_cast<std::ptrdiff_t>(outer_rank), k.dims.end());
  std::vector<FlatExpr> bodies, stores;
  for (const auto& r : k.reductions) bodies.emplace_back(r.body);
  for (const auto& s : k.stores) stores.emplace_back(s.value);
  size_t nloads = k.loads.size();
  std::vector<double> args(nloads + k.reductions.size());
  std::vector<int64_t> full(rank, 0);
  auto load_all = [&]() {
    for (size_t i = 0; i < nloads; ++i) {
      const Access& a = k.loads[i];
      if (a.iota_dim >= 0) {
        args[i] = static_cast<double>(full[a.iota_dim]);
        continue;
      }
      int64_t at = a.offset;
      for (size_t d = 0; d < rank; ++d) at += full[d] * a.strides[d];
      if (a.mask) {
        args[i] = dropout_keep(ctx.seed, a.mask->key, ctx.step, static_cast<uint64_t>(at), a.mask->rate) ? 1.0 : 0.0;
        continue;
      }
      if (!guards_hold(a, full)) {
        args[i] = a.pad;
        continue;
      }
      args[i] = read(a.buffer, at);
    }
  };
  // Every load of an index before any store at it (in-place updates).
  auto store_all = [&](bool per_element) {
    std::vector<std::pair<const Access*, double>> values;
    for (size_t s = 0; s < k.stores.size(); ++s)
      if (k.stores[s].per_element == per_element) values.emplace_back(&k.stores[s].at, stores[s].eval(args));
    for (const auto& [a, v] : values) {
      int64_t at = a->offset;
      for (size_t d = 0; d < rank; ++d) at += full[d] * a->strides[d];
      write(a->buffer, at, v);
    }
  };
  auto set_inner = [&](const std::vector<int64_t>& r) {
    std::copy(r.begin(), r.end(), full.begin() + static_cast<std::ptrdiff_t>(outer_rank));
  };
  for_each_index(outer, [&](const std::vector<int64_t>& o) {
    std::fill(full.begin(), full.end(), 0);
    std::copy(o.begin(), o.end(), full.begin());
    for (size_t j = 0; j < k.reductions.size(); ++j) {
      ReduceOp op = k.reductions[j].op;
      double acc = reduce_init(op);
      for_each_index(inner, [&](const std::vector<int64_t>& r) {
        set_inner(r);
        load_all();
        double v = bodies[j].eval(args);
        if (op == ReduceOp::sum) acc += v;
        else if (std::isnan(v) || std::isnan(acc)) acc = std::numeric_limits<double>::quiet_NaN();
        else acc = op == ReduceOp::max ? std::max(acc, v) : std::min(acc, v);
      });
      args[nloads + j] = acc;
    }
    std::fill(full.begin() + static_cast<std::ptrdiff_t>(outer_rank), full.end(), 0);
    load_all();
    store_all(false);
    if (!k.has_per_element_stores()) return;
    for_each_index(inner, [&](const std::vector<int64_t>& r) {
      set_inner(r);
      load_all();
      store_all(true);
    });
  });
}

void ProgramEvaluator::run_step(const Step& s, const EvalContext& ctx) {
  if (auto* k = s.loop()) run_loop(*k, ctx);
  if (auto* g = s.gemm()) {
    auto elem = [&](const GemmOperand& o, int64_t b, int64_t i, int64_t j) {
      int64_t at = o.offset + b * o.batch_stride + (o.trans ? j * o.ld + i : i * o.ld + j);
      return read(o.buffer, at);
    };
    for (int64_t b = 0; b < g->batch; ++b)
      for (int64_t i = 0; i < g->m; ++i)
        for (int64_t j = 0; j < g->n; ++j) {
          double acc = 0;
          for (int64_t q = 0; q < g->k; ++q) acc += elem(g->a, b, i, q) * elem(g->b, b, q, j);
          int64_t at = g->c.offset + b * g->c.batch_stride + i * g->c.ld + j;
          double prev = g->beta != 0 ? read(g->c.buffer, at) : 0.0;
          write(g->c.buffer, at, g->alpha * acc + g->beta * prev);
        }
    if (g->has_epilogue()) run_loop(g->epilogue, ctx);
  }
  if (auto* cv = s.conv()) {
    const ConvGeometry& g = cv->geometry;
    const ConvOperand& out = cv->written();
    const int64_t n = cv->written_numel();
    // Sums in float64, rounded to the buffer's dtype once, as the GEMM's.
    std::vector<double> sum(static_cast<size_t>(n), 0.0);
    auto at = [&](const ConvOperand& o, int64_t i) { return read(o.buffer, o.offset + i); };
    auto add = [&](int64_t i, double v) { sum[static_cast<size_t>(i)] += v; };
    for_each_conv_product(g, [&](int64_t x, int64_t w, int64_t y) {
      switch (cv->pass) {
        case ConvPass::forward: add(y, at(cv->image, x) * at(cv->weight, w)); break;
        case ConvPass::input_grad: add(x, at(cv->result, y) * at(cv->weight, w)); break;
        case ConvPass::weight_grad: add(w, at(cv->image, x) * at(cv->result, y)); break;
      }
    });
    for (int64_t i = 0; i < n; ++i) write(out.buffer, out.offset + i, sum[static_cast<size_t>(i)]);
  }
  if (auto* c = s.copy())
    for (int64_t i = 0; i < c->numel; ++i) write(c->dst, c->dst_offset + i, read(c->src, c->src_offset + i));
  // The evaluator is one process: the mean over one process is the value.
  if (auto* r = s.all_reduce())
    for (size_t k = 0; k < r->src.size(); ++k)
      for (int64_t i = 0; i < p_.buffers[r->src[k]].numel; ++i) write(r->dst[k], i, read(r->src[k], i));
}

}  // namespace dlc
