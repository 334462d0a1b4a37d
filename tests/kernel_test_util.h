// Helpers shared by the kernel IR, fusion and memory-planning tests: random
// feeds for a graph, the kernel-program evaluator against the reference
// interpreter, and an exhaustive check that live temps never overlap.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "reference/kernel_ir_eval.h"
#include "compiler/lower_to_kernels.h"
#include "compiler/memory_plan.h"
#include "ir/builder.h"
#include "ir/graph.h"
#include "reference/ref_interpreter.h"
#include "tests/test_util.h"

namespace dlc::test {

// --- building programs by hand ------------------------------------------------

/// Appends a buffer of `dims` to a hand-built program and returns its id; a
/// temp gets the next 64-byte-aligned offset of the program's arena.
inline int add_buffer(Program& p, BufferKind kind, const std::string& name, std::vector<int64_t> dims,
                      DType dtype = DType::f32) {
  Buffer b;
  b.id = static_cast<int>(p.buffers.size());
  b.name = name;
  b.kind = kind;
  b.dtype = dtype;
  b.dims = std::move(dims);
  b.numel = 1;
  for (int64_t d : b.dims) b.numel *= d;
  if (kind == BufferKind::temp) {
    b.offset = p.arena_bytes;
    p.arena_bytes += (b.bytes() + 63) / 64 * 64;
  }
  p.buffers.push_back(b);
  return b.id;
}

/// An access of `buffer` through `strides` (one per kernel dim) from `offset`.
inline Access at(int buffer, std::vector<int64_t> strides, int64_t offset = 0) {
  Access a;
  a.buffer = buffer;
  a.strides = std::move(strides);
  a.offset = offset;
  return a;
}

/// One row kernel with three dependent accumulators per row of x[rows,cols]:
/// max, then sum(exp(x - max)), then min(x - max); row stores of the
/// log-sum-exp (lse[rows]) and of the min (lo[rows,1]); per-element stores
/// of the softmax and of the mask where x - max is the min (at_min, i64).
/// Both executors' tests run it against the evaluator.
inline Program row_kernel_program(const std::string& entry, int64_t rows, int64_t cols) {
  Program p;
  p.entry = entry;
  int x = add_buffer(p, BufferKind::input, "x", {rows, cols});
  int lse = add_buffer(p, BufferKind::output, "lse", {rows});
  int lo = add_buffer(p, BufferKind::output, "lo", {rows, 1});
  int sm = add_buffer(p, BufferKind::output, "softmax", {rows, cols});
  int at_min = add_buffer(p, BufferKind::output, "at_min", {rows, cols}, DType::i64);
  LoopKernel k;
  k.dims = {rows, cols};
  k.reduce_dims = 1;
  SExpr mx = arg(1), sum = arg(2), mn = arg(3);
  k.reductions = {{ReduceOp::max, arg(0)}, {ReduceOp::sum, exp(arg(0) - mx)}, {ReduceOp::min, arg(0) - mx}};
  k.loads = {at(x, {cols, 1})};
  k.stores = {{at(lse, {1, 0}), mx + log(sum)},
              {at(lo, {1, 0}), mn},
              {at(sm, {cols, 1}), exp(arg(0) - mx) / sum, true},
              {at(at_min, {cols, 1}), equal(arg(0) - mx, mn), true}};
  Step st;
  st.body = k;
  st.values = {{"lse", lse}, {"lo", lo}, {"softmax", sm}, {"at_min", at_min}};
  p.steps.push_back(st);
  return p;
}

/// train_step of y = dropout(relu(x), rate) named "drop1" over x[r,c],
/// returning y, its transpose and its row sums: one mask read in order,
/// transposed and inside a reduction (the backends' mask tests).
struct DropoutViews {
  Graph g;
  std::string y, yt, rows;
  Program p;
};
inline DropoutViews dropout_views(int64_t r, int64_t c, float rate) {
  DropoutViews d;
  GraphBuilder b(d.g);
  auto x = b.input("x", {DType::f32, {r, c}});
  d.y = b.op("dropout", {b.op("relu", {x})}, {{"rate", attr_f(rate)}}, "drop1");
  d.yt = b.op("transpose", {d.y});
  d.rows = b.op("reduce_sum", {d.y}, {{"axes", attr_ints({1})}});
  d.p = build_program(d.g, {"train_step", {d.y, d.yt, d.rows}, {}, true});
  return d;
}

/// Random values for every input and parameter of `g`: floats in [-1, 1],
/// integer labels in [0, label_range), `learning_rate` 0.01 and `step` 1.
inline std::map<std::string, Tensor> random_feeds(const Graph& g, uint64_t seed, int64_t label_range = 3) {
  std::map<std::string, Tensor> feeds;
  uint64_t k = seed;
  auto make = [&](const std::string& name, const TensorType& t) {
    if (name == "learning_rate") return Tensor::scalar(0.01);
    if (name == "step") return Tensor::scalar(1);
    if (is_integer(t.dtype)) {
      Tensor r = random_tensor(t.dims, ++k, 0, static_cast<double>(label_range), DType::f64);
      for (double& v : r.data) v = std::floor(v);
      r.type.dtype = t.dtype;
      return r;
    }
    Tensor r = random_tensor(t.dims, ++k, -1, 1, DType::f64);
    r.type.dtype = t.dtype;
    return r;
  };
  for (const auto& in : g.inputs) feeds[in.name] = make(in.name, in.type);
  for (const auto& p : g.params) {
    feeds[p.name] = make(p.name, p.type);
    // Frozen state holds variances and second moments: positive, so their
    // square roots are numbers.
    if (p.frozen && is_float(p.type.dtype))
      for (double& v : feeds[p.name].data) v = 1.0 + v / 2;
  }
  return feeds;
}

/// Worst relative error of `got` against `want` (|a-b| / max(1, |b|)); a
/// NaN on one side only, or an infinity the other side does not have,
/// counts as infinite. (NaN on both sides agrees: the NaN-propagation tests
/// rely on it. tests/cpu_test_util.h's relative_error refuses even that.)
inline double worst_error(const Tensor& got, const Tensor& want) {
  if (got.numel() != want.numel()) return INFINITY;
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    if (std::isnan(got[i]) != std::isnan(want[i])) return INFINITY;
    if (std::isnan(got[i])) continue;
    if (std::isinf(got[i]) || std::isinf(want[i])) {
      if (got[i] != want[i]) return INFINITY;
      continue;
    }
    worst = std::max(worst, std::fabs(got[i] - want[i]) / std::max(1.0, std::fabs(want[i])));
  }
  return worst;
}

/// Hands `eval` the values in `feeds` of program `p`'s state buffers;
/// returns those of its inputs, to run it with.
inline std::map<std::string, Tensor> feed_evaluator(ProgramEvaluator& eval, const Program& p,
                                                    const std::map<std::string, Tensor>& feeds) {
  std::map<std::string, Tensor> inputs;
  for (const auto& b : p.buffers) {
    if (b.kind == BufferKind::state) eval.set_state(b.name, feeds.at(b.name));
    if (b.kind == BufferKind::input) inputs[b.name] = feeds.at(b.name);
  }
  return inputs;
}

/// Runs `prog` on `feeds` with the evaluator and the graph through the
/// reference interpreter; expects every output and state update to agree.
inline void expect_matches_reference(const Graph& g, const EntrySpec& e, const Program& prog,
                                     const std::map<std::string, Tensor>& feeds, double tol = 1e-9) {
  ProgramEvaluator eval(prog);
  std::map<std::string, Tensor> inputs = feed_evaluator(eval, prog, feeds);
  EvalContext ctx;
  ctx.training = e.training;
  ctx.seed = 7;
  ctx.step = 1;
  auto got = eval.run(inputs, ctx);
  std::vector<std::string> wanted = e.outputs;
  for (const auto& [s, v] : e.updates) wanted.push_back(v);
  auto want = RefInterpreter(g).run(feeds, wanted, ctx);
  for (const auto& o : e.outputs) {
    ASSERT_TRUE(got.count(o)) << "missing output " << o;
    EXPECT_LE(worst_error(got.at(o), want.at(o)), tol) << "output " << o << "\n" << print_program(prog);
  }
  for (const auto& [s, v] : e.updates)
    EXPECT_LE(worst_error(eval.state(s), want.at(v)), tol) << "state " << s << " := " << v << "\n"
                                                           << print_program(prog);
}

/// Exhaustively: at every step, two temps alive at once never share a byte,
/// except an in-place pair at the step where one dies and the other is born.
inline void expect_no_live_overlap(const Program& p, const MemoryStats& stats) {
  std::vector<Lifetime> life = buffer_lifetimes(p);
  auto in_place_pair = [&](int a, int b, int step) {
    for (const auto& ip : stats.in_place)
      if (ip.step == step && ((ip.from == a && ip.to == b) || (ip.from == b && ip.to == a))) return true;
    return false;
  };
  for (int step = 0; step < static_cast<int>(p.steps.size()); ++step)
    for (const auto& a : p.buffers)
      for (const auto& b : p.buffers) {
        if (a.id >= b.id || a.kind != BufferKind::temp || b.kind != BufferKind::temp) continue;
        bool a_live = life[a.id].first <= step && step <= life[a.id].last;
        bool b_live = life[b.id].first <= step && step <= life[b.id].last;
        if (!a_live || !b_live) continue;
        bool overlap = a.offset < b.offset + b.bytes() && b.offset < a.offset + a.bytes();
        if (overlap && !in_place_pair(a.id, b.id, step))
          ADD_FAILURE() << "temps " << a.name << " @" << a.offset << " and " << b.name << " @" << b.offset
                        << " overlap at step " << step << "\n"
                        << print_program(p);
      }
  for (const auto& b : p.buffers)
    if (b.kind == BufferKind::temp) {
      EXPECT_GE(b.offset, 0);
      EXPECT_LE(b.offset + b.bytes(), p.arena_bytes);
      EXPECT_EQ(b.offset % kArenaAlignment, 0);
    }
}

/// Number of steps of each kind ("loop", "gemm", "copy").
inline std::map<std::string, int> step_kinds(const Program& p) {
  std::map<std::string, int> n;
  for (const auto& s : p.steps) ++n[s.kind_name()];
  return n;
}

}  // namespace dlc::test
