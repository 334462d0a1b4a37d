// The cpu backend end to end: kernel programs → LLVM → shared object →
// memfd → CpuExecutor, compared with the float64 program evaluator (and,
// for lowered graphs, the reference interpreter).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cmath>
#include <set>
#include <cstring>
#include <iostream>
#include <random>

#include "compiler/codegen/cpu/cpu_codegen.h"
#include "compiler/codegen/cpu/loop_shape.h"
#include "reference/kernel_ir_eval.h"
#include "compiler/passes/autodiff.h"
#include "compiler/passes/lower_optimizer.h"
#include "frontend/layers.h"
#include "ir/builder.h"
#include "ir/verifier.h"
#include "ir/error.h"
#include "kernel/cpu_features.h"
#include "runtime/cpu_convolution.h"
#include "runtime/cpu_executor.h"
#include "runtime/ref_executor.h"
#include "runtime/thread_pool.h"
#include "tests/cpu_test_util.h"
#include "tests/kernel_test_util.h"
#include "tests/ops_test_util.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

using test::add_buffer;
using test::at;

using test::expect_cpu_matches_reference;
using test::make_executable;
using test::to_host_map;

// --- building programs by hand ------------------------------------------------

Access iota(int dim, size_t rank) {
  Access a;
  a.iota_dim = dim;
  a.strides.assign(rank, 0);
  return a;
}

Program program(const std::string& entry) {
  Program p;
  p.entry = entry;
  return p;
}

void add_step(Program& p, decltype(Step::body) body) {
  Step s;
  s.body = std::move(body);
  p.steps.push_back(std::move(s));
}

// --- running them ---------------------------------------------------------------

/// Runs program `p` on the cpu executor and the evaluator with the same
/// inputs and initial state; expects outputs and final state to agree.
/// Returns the cpu outputs (and states, by name) for further checks.
std::map<std::string, Tensor> expect_cpu_matches_evaluator(const Program& p, const std::map<std::string, Tensor>& inputs,
                                                           const std::map<std::string, Tensor>& state = {},
                                                           int threads = 2, double tol = 1e-5) {
  auto exe = make_executable({p}, state);
  auto cpu = make_cpu_executor(exe, threads);
  std::map<std::string, HostTensor> outs;
  cpu->run(p.entry, to_host_map(inputs), &outs);

  ProgramEvaluator eval(p);
  for (const auto& [name, t] : state) eval.set_state(name, t);
  auto want = eval.run(inputs);
  std::map<std::string, Tensor> got;
  for (const auto& [name, t] : want) {
    EXPECT_TRUE(outs.count(name)) << "missing output " << name;
    if (!outs.count(name)) continue;
    got[name] = to_tensor(outs.at(name));
    EXPECT_LE(test::worst_error(got[name], t), tol) << "output " << name << "\n" << print_program(p);
  }
  for (const Buffer& b : p.buffers) {
    if (b.kind != BufferKind::state) continue;
    got[b.name] = to_tensor(cpu->get_state(b.name));
    EXPECT_LE(test::worst_error(got[b.name], eval.state(b.name)), tol) << "state " << b.name << "\n"
                                                                        << print_program(p);
  }
  return got;
}

Tensor rand(const std::vector<int64_t>& dims, uint64_t seed, DType dtype = DType::f32) {
  return test::random_tensor(dims, seed, -2, 2, dtype);
}

// --- loop kernels ---------------------------------------------------------------

// out = max(x + bias, 0) * 2 with bias broadcast along rows.
Program bias_relu(int64_t n, int64_t k) {
  Program p = program("predict");
  int x = add_buffer(p, BufferKind::input, "x", {n, k});
  int bias = add_buffer(p, BufferKind::input, "bias", {k});
  int out = add_buffer(p, BufferKind::output, "out", {n, k});
  LoopKernel lk;
  lk.dims = {n, k};
  lk.loads = {at(x, {k, 1}), at(bias, {0, 1})};
  lk.stores = {{at(out, {k, 1}), max(arg(0) + arg(1), 0.0) * 2.0}};
  add_step(p, lk);
  return p;
}

TEST(CpuExecutor, ElementwiseBroadcastAtOddSizes) {
  for (auto [n, k] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {7, 1023}, {3, 7}, {1023, 1}, {300, 129}}) {
    SCOPED_TRACE(std::to_string(n) + "x" + std::to_string(k));
    auto got = expect_cpu_matches_evaluator(bias_relu(n, k), {{"x", rand({n, k}, 1)}, {"bias", rand({k}, 2)}});
    // Something non-trivial was computed (not all zeros).
    double total = 0;
    for (double v : got.at("out").data) total += v;
    EXPECT_GT(total, 0);
  }
}

TEST(CpuExecutor, NaNPropagatesThroughMaxAndIsNeverHidden) {
  Program p = bias_relu(2, 5);
  Tensor x = rand({2, 5}, 3);
  x[3] = NAN;
  auto got = expect_cpu_matches_evaluator(p, {{"x", x}, {"bias", rand({5}, 4)}});
  EXPECT_TRUE(std::isnan(got.at("out")[3]));
  EXPECT_FALSE(std::isnan(got.at("out")[2]));
}

// y[r] = sum_c exp(x[r, c]) / cols (a row reduction), z[c] = sum_r x[r, c] (a column one).
Program reductions(int64_t rows, int64_t cols) {
  Program p = program("predict");
  int x = add_buffer(p, BufferKind::input, "x", {rows, cols});
  int y = add_buffer(p, BufferKind::output, "y", {rows});
  int z = add_buffer(p, BufferKind::output, "z", {cols});
  int m = add_buffer(p, BufferKind::output, "m", {});
  LoopKernel row;
  row.dims = {rows, cols};
  row.reduce_dims = 1;
  row.reductions = {{ReduceOp::sum, exp(arg(0))}};
  row.loads = {at(x, {cols, 1})};
  row.stores = {{at(y, {1, 0}), arg(1) / static_cast<double>(cols)}};
  add_step(p, row);
  LoopKernel col;  // iteration space [cols, rows], reducing rows
  col.dims = {cols, rows};
  col.reduce_dims = 1;
  col.reductions = {{ReduceOp::sum, arg(0)}};
  col.loads = {at(x, {1, cols})};
  col.stores = {{at(z, {1, 0}), arg(1)}};
  add_step(p, col);
  LoopKernel all;  // a full max reduction to a scalar
  all.dims = {rows, cols};
  all.reduce_dims = 2;
  all.reductions = {{ReduceOp::max, arg(0)}};
  all.loads = {at(x, {cols, 1})};
  all.stores = {{at(m, {0, 0}), arg(1)}};
  add_step(p, all);
  return p;
}

TEST(CpuExecutor, RowColumnAndFullReductions) {
  Program p = reductions(37, 300);
  EXPECT_EQ(cpu::canonical_shape(*p.steps[0].loop()).order, cpu::ReduceOrder::inner);
  EXPECT_EQ(cpu::canonical_shape(*p.steps[1].loop()).order, cpu::ReduceOrder::column);
  for (auto [r, c] : std::vector<std::pair<int64_t, int64_t>>{{37, 300}, {1, 1}, {1023, 7}, {5, 1023}}) {
    SCOPED_TRACE(std::to_string(r) + "x" + std::to_string(c));
    expect_cpu_matches_evaluator(reductions(r, c), {{"x", rand({r, c}, 5)}});
  }
}

TEST(CpuExecutor, MaxReductionPropagatesNaN) {
  Tensor x = rand({4, 9}, 6);
  x[20] = NAN;
  auto got = expect_cpu_matches_evaluator(reductions(4, 9), {{"x", x}});
  EXPECT_TRUE(std::isnan(got.at("m")[0]));
  EXPECT_TRUE(std::isnan(got.at("z")[20 % 9]));
  EXPECT_FALSE(std::isnan(got.at("z")[(20 + 1) % 9]));
}

TEST(CpuExecutor, ReductionsAreBitwiseIdenticalForAnyThreadCount) {
  Program p = reductions(513, 777);
  auto exe = make_executable({p}, {});
  auto inputs = to_host_map({{"x", rand({513, 777}, 7)}});
  std::vector<std::map<std::string, HostTensor>> results;
  for (int threads : {1, 2, 3, 5}) {
    auto cpu = make_cpu_executor(exe, threads);
    std::map<std::string, HostTensor> outs;
    cpu->run("predict", inputs, &outs);
    cpu->run("predict", inputs, &outs);  // and again: nothing carries over
    results.push_back(outs);
  }
  for (size_t i = 1; i < results.size(); ++i)
    for (const auto& [name, t] : results[0]) EXPECT_EQ(results[i].at(name).bytes, t.bytes) << name;
}

/// Runs program `p` on the cpu executor only; returns its outputs.
std::map<std::string, Tensor> run_cpu(const Program& p, const std::map<std::string, Tensor>& inputs) {
  auto cpu = make_cpu_executor(make_executable({p}, {}), 2);
  std::map<std::string, HostTensor> outs;
  cpu->run(p.entry, to_host_map(inputs), &outs);
  std::map<std::string, Tensor> got;
  for (const auto& [name, h] : outs) got[name] = to_tensor(h);
  return got;
}

// One-hot by comparing an iota with integer labels; stores to i32 and bool
// (the evaluator keeps NaN in integer buffers, so these are checked directly).
TEST(CpuExecutor, IotaLoadsAndIntegerAndBoolStores) {
  Program p = program("predict");
  int labels = add_buffer(p, BufferKind::input, "labels", {6}, DType::i32);
  int x = add_buffer(p, BufferKind::input, "x", {6, 4});
  int hot = add_buffer(p, BufferKind::output, "hot", {6, 4});
  int ints = add_buffer(p, BufferKind::output, "ints", {6, 4}, DType::i32);
  int flags = add_buffer(p, BufferKind::output, "flags", {6, 4}, DType::boolean);
  LoopKernel k;
  k.dims = {6, 4};
  k.loads = {at(labels, {1, 0}), iota(1, 2), at(x, {4, 1})};
  k.stores = {{at(hot, {4, 1}), equal(arg(0), arg(1))},
              {at(ints, {4, 1}), arg(2) * 1e30},
              {at(flags, {4, 1}), arg(2)}};
  add_step(p, k);
  Tensor lab({DType::i32, {6}}, {0, 3, 1, 7, 2, 0});
  Tensor xs = rand({6, 4}, 8);
  xs[5] = NAN;
  xs[6] = 0;
  auto got = run_cpu(p, {{"labels", lab}, {"x", xs}});
  for (int r = 0; r < 6; ++r)
    for (int c = 0; c < 4; ++c) EXPECT_EQ(got.at("hot")[r * 4 + c], lab[r] == c ? 1.0 : 0.0) << r << "," << c;
  for (int i = 0; i < 24; ++i) {
    double want_int = std::isnan(xs[i]) ? 0.0 : xs[i] == 0 ? 0.0 : xs[i] > 0 ? 2147483647.0 : -2147483648.0;
    EXPECT_EQ(got.at("ints")[i], want_int) << i;  // NaN stores 0; out of range saturates
    EXPECT_EQ(got.at("flags")[i], xs[i] != 0 ? 1.0 : 0.0) << i;  // NaN is non-zero
  }
}

// w := w - lr * g, in place on the state buffer, and a copy of it out.
TEST(CpuExecutor, InPlaceStateUpdateAndCopy) {
  Program p = program("train_step");
  int lr = add_buffer(p, BufferKind::input, "learning_rate", {});
  int g = add_buffer(p, BufferKind::input, "g", {3, 5});
  int w = add_buffer(p, BufferKind::state, "w", {3, 5});
  int snapshot = add_buffer(p, BufferKind::output, "snapshot", {3, 5});
  LoopKernel k;
  k.dims = {3, 5};
  k.loads = {at(w, {5, 1}), at(lr, {0, 0}), at(g, {5, 1})};
  k.stores = {{at(w, {5, 1}), arg(0) - arg(1) * arg(2)}};
  add_step(p, k);
  add_step(p, CopyStep{w, snapshot, 0, 0, 15});
  Tensor w0 = rand({3, 5}, 9), grad = rand({3, 5}, 10);
  auto got = expect_cpu_matches_evaluator(p, {{"learning_rate", Tensor::scalar(0.5)}, {"g", grad}}, {{"w", w0}});
  for (int i = 0; i < 15; ++i) {
    EXPECT_NEAR(got.at("w")[i], w0[i] - 0.5 * grad[i], 1e-6);
    EXPECT_EQ(got.at("snapshot")[i], got.at("w")[i]);
  }
}

// --- GEMM ------------------------------------------------------------------------

// C = A op B (+ bias, relu) with each operand transposed or not.
Program gemm_relu(int64_t m, int64_t n, int64_t k, bool ta, bool tb) {
  Program p = program("predict");
  int a = add_buffer(p, BufferKind::input, "a", ta ? std::vector<int64_t>{k, m} : std::vector<int64_t>{m, k});
  int b = add_buffer(p, BufferKind::state, "b", tb ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n});
  int bias = add_buffer(p, BufferKind::state, "bias", {n});
  int c = add_buffer(p, BufferKind::output, "c", {m, n});
  GemmCall gc;
  gc.m = m, gc.n = n, gc.k = k;
  gc.a = {a, 0, ta ? m : k, ta, 0};
  gc.b = {b, 0, tb ? k : n, tb, 0};
  gc.c = {c, 0, n, false, 0};
  gc.epilogue.dims = {m, n};
  gc.epilogue.loads = {at(c, {n, 1}), at(bias, {0, 1})};
  gc.epilogue.stores = {{at(c, {n, 1}), max(arg(0) + arg(1), 0.0)}};
  add_step(p, gc);
  return p;
}

TEST(CpuExecutor, GemmWithEpilogueInEveryTransposition) {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (auto [m, n, k] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {1, 700, 300}, {7, 33, 5}, {300, 200, 64}, {2, 700, 30}, {3, 4, 0}}) {
        SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + (ta ? " A^T" : "") +
                     (tb ? " B^T" : ""));
        Program p = gemm_relu(m, n, k, ta, tb);
        expect_cpu_matches_evaluator(p, {{"a", rand(p.buffers[0].dims, 11)}},
                                     {{"b", rand(p.buffers[1].dims, 12)}, {"bias", rand({n}, 13)}});
      }
}

// --- row kernels: several reductions per row, per-element stores ---------------

Program row_program(int64_t rows, int64_t cols) { return test::row_kernel_program("train_step", rows, cols); }

TEST(CpuExecutor, RowKernelsWithSeveralReductionsAndPerElementStores) {
  // Rows of up to 16 elements are unrolled straight-line code (1, 10, 16),
  // longer ones loops (17, 1023).
  for (auto [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {7, 10}, {33, 16}, {33, 17}, {128, 1023}}) {
    SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols));
    Tensor x = test::random_tensor({rows, cols}, 14, -30, 30);
    auto got = expect_cpu_matches_evaluator(row_program(rows, cols), {{"x", x}});
    // The softmax rows sum to 1 and exactly one element per row is the min.
    for (int64_t r = 0; r < rows; ++r) {
      double total = 0, mins = 0;
      for (int64_t c = 0; c < cols; ++c) {
        total += got.at("softmax")[r * cols + c];
        mins += got.at("at_min")[r * cols + c];
      }
      EXPECT_NEAR(total, 1.0, 1e-5);
      EXPECT_EQ(mins, 1.0);
    }
  }
}

TEST(CpuExecutor, RowKernelPropagatesNaN) {
  Tensor x = rand({3, 4}, 15);
  x[5] = std::numeric_limits<double>::quiet_NaN();  // row 1
  auto got = expect_cpu_matches_evaluator(row_program(3, 4), {{"x", x}});
  EXPECT_TRUE(std::isnan(got.at("lse")[1]));
  EXPECT_TRUE(std::isnan(got.at("lo")[1]));
  EXPECT_FALSE(std::isnan(got.at("lse")[0]));
}

// --- lowered graphs against the reference interpreter -------------------------

/// A seeded random DAG of element-wise ops over broadcastable shapes with
/// odd sizes; returns the output value.
std::string random_elementwise_graph(Graph& g, uint64_t seed) {
  std::mt19937_64 rng(seed);
  GraphBuilder b(g);
  std::vector<std::vector<int64_t>> shapes = {{7, 1023}, {1023}, {7, 1}, {1, 1023}, {}};
  std::vector<std::string> values;
  for (int i = 0; i < 4; ++i)
    values.push_back(b.input("in" + std::to_string(i), {DType::f32, shapes[rng() % shapes.size()]}));
  const char* unary[] = {"neg", "relu", "sigmoid", "tanh", "abs", "square", "exp", "softplus"};
  const char* binary[] = {"add", "sub", "mul", "maximum", "minimum"};
  for (int i = 0; i < 12; ++i) {
    std::string a = values[rng() % values.size()];
    if (rng() % 3 == 0) {
      values.push_back(b.op(unary[rng() % 8], {a}));
    } else {
      values.push_back(b.op(binary[rng() % 5], {a, values[rng() % values.size()]}));
    }
  }
  std::string out = values.back();
  for (size_t i = 4; i + 1 < values.size(); ++i)
    if (rng() % 2) out = b.add(out, values[i]);
  if (g.type_of(out).dims != std::vector<int64_t>{7, 1023}) out = b.add(out, b.input("full", {DType::f32, {7, 1023}}));
  b.output(out);
  return out;
}

TEST(CpuExecutorGraphs, RandomElementwiseGraphsMatchTheReference) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Graph g;
    std::string out = random_elementwise_graph(g, seed);
    verify_or_throw(g);
    expect_cpu_matches_reference(g, {"predict", {out}, {}, false}, test::random_feeds(g, seed));
  }
}

/// x[batch,12] -> dense 16 relu -> dense 5 -> softmax cross-entropy.
Model small_mlp(int64_t batch, const std::string& optimizer) {
  Model m;
  m.source = "mlp";
  GraphBuilder b(m.graph);
  auto x = b.input("x", {DType::f32, {batch, 12}});
  auto y = b.input("y", {DType::i32, {batch}}, proto::LABEL);
  auto h = relu(b, dense(b, x, 16, "fc1", init_normal(0.3)), "h");
  auto logits = dense(b, h, 5, "fc2", init_normal(0.3));
  b.output(logits);
  m.training.set_loss(softmax_cross_entropy(b, logits, y, "loss"));
  m.training.mutable_optimizer()->set_kind(optimizer);
  verify_or_throw(m);
  return m;
}

TEST(CpuExecutorGraphs, MlpForwardMatchesTheReference) {
  for (int64_t batch : {1, 7, 130}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    Model m = small_mlp(batch, "sgd");
    expect_cpu_matches_reference(m.graph, {"predict", m.graph.outputs, {}, false}, test::random_feeds(m.graph, 5, 5));
  }
}

TEST(CpuExecutorGraphs, TrainStepMatchesTheReference) {
  // One step of every optimizer: gradients, loss row kernels, fused updates.
  // Adam-family updates divide by sqrt(v), which magnifies float32 rounding
  // of tiny gradients, hence the looser tolerance.
  for (const char* opt : {"sgd", "momentum", "adam", "rmsprop"}) {
    SCOPED_TRACE(opt);
    Model m = small_mlp(9, opt);
    ASSERT_TRUE(AutodiffPass().run(m));
    ASSERT_TRUE(LowerOptimizerPass().run(m));
    verify_or_throw(m);
    // Optimizer state as a run leaves it: squared-gradient averages are
    // never negative (a negative one made sqrt NaN on both sides).
    auto feeds = test::random_feeds(m.graph, 11, 5);
    for (const auto& p : m.graph.params)
      if (p.frozen)
        for (double& v : feeds.at(p.name).data) v = std::fabs(v);
    for (const auto& e : entry_specs(m))
      if (e.name == "train_step") expect_cpu_matches_reference(m.graph, e, feeds, 1e-4);
  }
}

/// The three passes of one convolution over inputs x, w and dy of the
/// given shapes, as the outputs of a "predict" entry of `g`: y = conv(x, w)
/// with attributes `a`, and its gradients dx and dw at dy (dx left out
/// when `input_grad` is false).
EntrySpec convolution_passes(Graph& g, const std::vector<int64_t>& x_dims, const std::vector<int64_t>& w_dims,
                             const std::vector<int64_t>& y_dims, const Attrs& a, bool input_grad = true) {
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, x_dims});
  auto w = b.input("w", {DType::f32, w_dims});
  auto dy = b.input("dy", {DType::f32, y_dims});
  Attrs with_image = a, with_kernel = a;
  with_image["image"] = attr_ints({x_dims[2], x_dims[3]});
  with_kernel["kernel"] = attr_ints({w_dims[2], w_dims[3]});
  auto y = b.op("conv2d_forward", {x, w}, a);
  EXPECT_EQ(g.type_of(y).dims, y_dims);
  std::vector<std::string> outs = {y, b.op("conv2d_weight_grad", {x, dy}, with_kernel)};
  if (input_grad) outs.push_back(b.op("conv2d_input_grad", {dy, w}, with_image));
  return {"predict", outs, {}, false};
}

// The three convolution passes as oneDNN calls over many blocks of images
// (runtime/cpu_convolution.h): 16 blocks of 4 images of LeNet-5's second
// convolution (the weight gradient adds 16 partial sums); 61 images, blocks
// of two sizes (two primitives); a strided, padded, dilated window; and
// LeNet-5's first convolution (one input channel: the weight gradient as a
// forward convolution with roles swapped, in 8 blocks).
TEST(CpuExecutorGraphs, ConvolutionPassesInManyBlocksMatchTheReference) {
  struct Case {
    std::vector<int64_t> x, w, y;
    std::vector<int64_t> strides, pads, dilations;
  };
  for (const Case& c : {Case{{64, 6, 14, 14}, {16, 6, 5, 5}, {64, 16, 10, 10}, {1, 1}, {0, 0}, {1, 1}},
                        Case{{61, 6, 14, 14}, {16, 6, 5, 5}, {61, 16, 10, 10}, {1, 1}, {0, 0}, {1, 1}},
                        Case{{37, 4, 33, 31}, {16, 4, 3, 2}, {37, 16, 16, 16}, {2, 2}, {1, 2}, {2, 3}},
                        Case{{64, 1, 28, 28}, {6, 1, 5, 5}, {64, 6, 28, 28}, {1, 1}, {2, 2}, {1, 1}},
                        Case{{50, 1, 29, 29}, {16, 1, 3, 4}, {50, 16, 15, 8}, {2, 3}, {1, 0}, {1, 2}}}) {
    SCOPED_TRACE("batch " + std::to_string(c.x[0]));
    Graph g;
    Attrs a = {{"strides", attr_ints(c.strides)}, {"pads", attr_ints(c.pads)}, {"dilations", attr_ints(c.dilations)}};
    EntrySpec e = convolution_passes(g, c.x, c.w, c.y, a);
    Program p = build_program(g, e);
    EXPECT_EQ(test::step_kinds(p)["conv"], 3) << print_program(p);
    for (int threads : {1, 3}) expect_cpu_matches_reference(g, e, test::random_feeds(g, 17), 1e-4, threads);
  }
}

// Small convolutions are generated kernels when the target has AVX2 or
// AVX-512 (compiler/codegen/cpu/convolution_emitter.h): all three passes,
// on 8 or 16 lanes, with rows that end inside a vector, asymmetric kernels
// and pads, and work split over 1 or 3 threads; the passes whose rows fill
// too few lanes stay oneDNN calls in the same program.
TEST(CpuExecutorGraphs, GeneratedConvolutionsMatchTheReference) {
  struct Case {
    std::vector<int64_t> x, w, y;
    std::vector<int64_t> pads;
    int generated_on_v3, generated_on_v4;  // of the three passes
  };
  const Case cases[] = {
      // LeNet-5's first convolution (on 16 lanes its input gradient has too
      // few accumulators, one filter's row; on 8 lanes the weight gradient
      // takes two kernel rows at a time) and second (its forward and weight
      // gradient rows of 10 fill too few lanes).
      {{13, 1, 28, 28}, {6, 1, 5, 5}, {13, 6, 28, 28}, {2, 2}, 3, 2},
      {{13, 6, 14, 14}, {16, 6, 5, 5}, {13, 16, 10, 10}, {0, 0}, 1, 1},
      {{5, 4, 9, 13}, {8, 4, 3, 2}, {5, 8, 9, 12}, {1, 0}, 3, 3},
      // Rows of 6 fill 3/4 of 8 lanes, not of 16.
      {{7, 3, 8, 6}, {12, 3, 3, 3}, {7, 12, 8, 6}, {1, 1}, 2, 0},
      // A 7x7 kernel: on 8 lanes (4 filters x 2 vectors) forward and input
      // gradient; on 16 the forward's 16 filters would unroll 4144
      // multiply-adds (over kMaxUnrolledMultiplyAdds), the input gradient has
      // 3 filters, and the weight gradient's rows of 16 + 6 fill too few
      // lanes.
      {{2, 3, 20, 16}, {16, 3, 7, 7}, {2, 16, 20, 16}, {3, 3}, 2, 0},
  };
  for (const char* cpu : {"x86-64-v3", "x86-64-v4"}) {
    const bool v4 = std::string(cpu) == "x86-64-v4";
    if (!missing_cpu_features({v4 ? "avx512f" : "avx2", "fma"}).empty()) {
      std::cout << "skipping " << cpu << ": this machine cannot run its code\n";
      continue;
    }
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(cpu) + ", image " + std::to_string(c.x[1]) + "x" + std::to_string(c.x[2]) + "x" +
                   std::to_string(c.x[3]));
      Graph g;
      Attrs a = {{"strides", attr_ints({1, 1})}, {"pads", attr_ints(c.pads)}, {"dilations", attr_ints({1, 1})}};
      EntrySpec e = convolution_passes(g, c.x, c.w, c.y, a);
      for (int threads : {1, 3}) {
        Program p = expect_cpu_matches_reference(g, e, test::random_feeds(g, 23), 1e-4, threads, cpu);
        int generated = 0;
        for (const Step& s : p.steps)
          if (s.conv() && s.conv()->generated) ++generated;
        EXPECT_EQ(generated, v4 ? c.generated_on_v4 : c.generated_on_v3) << print_program(p);
      }
    }
  }
}

// LeNet-5's convolutions have 1, 6 and 16 channels: layouts padded to
// oneDNN's 16-channel blocks cost up to a third of a pass, so fewer channels
// ask for 8-channel blocks or NHWC (runtime/cpu_convolution.cc
// layout_choices), and a choice stands only where oneDNN has a direct jit
// kernel for it; its GEMM-based and reference kernels are 3-100x slower
// on these shapes.
TEST(CpuExecutorGraphs, LenetConvolutionsRunDirectKernels) {
  struct Case {
    std::vector<int64_t> x, w, y;
    int64_t pad;
  };
  for (const Case& c : {Case{{128, 1, 28, 28}, {6, 1, 5, 5}, {128, 6, 28, 28}, 2},
                        Case{{128, 6, 14, 14}, {16, 6, 5, 5}, {128, 16, 10, 10}, 0}}) {
    Graph g;
    Attrs a = {{"strides", attr_ints({1, 1})}, {"pads", attr_ints({c.pad, c.pad})}, {"dilations", attr_ints({1, 1})}};
    // The first convolution's input gradient is never computed (its input is the data).
    EntrySpec e = convolution_passes(g, c.x, c.w, c.y, a, c.x[1] > 1);
    Program p = build_program(g, e);
    int convs = 0;
    for (const Step& s : p.steps) {
      if (!s.conv()) continue;
      ++convs;
      CpuConvolution conv(*s.conv(), "test");
      ASSERT_FALSE(conv.kernel_names().empty());
      for (const std::string& name : conv.kernel_names()) {
        SCOPED_TRACE(std::string(conv_pass_name(s.conv()->pass)) + " of " + std::to_string(c.x[1]) + " channels: " + name);
        EXPECT_NE(name.rfind("ref", 0), 0u);
        EXPECT_EQ(name.find("gemm"), std::string::npos);
      }
    }
    EXPECT_EQ(convs, static_cast<int>(e.outputs.size()));
  }
}

TEST(CpuExecutorGraphs, ArgmaxRunsAsNativeKernels) {
  // argmax is a composite of two reductions: native code, no reference call.
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {37, 13}});
  auto am = b.op("argmax", {b.op("exp", {x})});
  auto y = b.mul(b.op("cast", {am}, {{"dtype", attr_dtype(DType::f32)}}), b.scalar(2));
  b.output(y);
  b.output(am);
  verify_or_throw(g);
  EntrySpec e{"predict", {y, am}, {}, false};
  for (const auto& [kind, n] : test::step_kinds(build_program(g, e))) EXPECT_TRUE(kind == "loop" || kind == "copy") << kind;
  expect_cpu_matches_reference(g, e, test::random_feeds(g, 12), 0);
}

TEST(CpuExecutorGraphs, TrainingIsBitwiseReproducibleForAGivenThreadCount) {
  Model m = small_mlp(200, "adam");
  ASSERT_TRUE(AutodiffPass().run(m));
  ASSERT_TRUE(LowerOptimizerPass().run(m));
  verify_or_throw(m);
  EntrySpec e;
  for (const auto& spec : entry_specs(m))
    if (spec.name == "train_step") e = spec;
  Program p = build_program(m.graph, e);
  auto feeds = test::random_feeds(m.graph, 21, 5);
  std::map<std::string, Tensor> state, inputs;
  for (const Buffer& b : p.buffers) {
    if (b.kind == BufferKind::state) state[b.name] = feeds.at(b.name);
    if (b.kind == BufferKind::input) inputs[b.name] = feeds.at(b.name);
  }
  auto exe = make_executable({p}, state);
  auto train = [&](int threads) {
    auto cpu = make_cpu_executor(exe, threads);
    std::map<std::string, HostTensor> outs;
    for (int step = 0; step < 5; ++step) cpu->run("train_step", to_host_map(inputs), &outs);
    std::map<std::string, std::vector<uint8_t>> weights;
    for (const auto& [name, t] : state) weights[name] = cpu->get_state(name).bytes;
    return weights;
  };
  for (int threads : {2, 3}) {
    auto first = train(threads), second = train(threads);
    EXPECT_EQ(first, second) << threads << " threads";
    EXPECT_NE(first.at("fc1.w"), to_host(state.at("fc1.w")).bytes) << "training changed nothing";
  }
}

TEST(CpuExecutorGraphs, ObservedStepsMatchTheReferenceValueByValue) {
  // What dlrun --verify-fusion does: after each step, the graph values the
  // step stored are compared with the reference interpreter's.
  Model m = small_mlp(9, "adam");
  ASSERT_TRUE(AutodiffPass().run(m));
  ASSERT_TRUE(LowerOptimizerPass().run(m));
  verify_or_throw(m);
  EntrySpec e;
  for (const auto& spec : entry_specs(m))
    if (spec.name == "train_step") e = spec;
  Program p = build_program(m.graph, e);
  auto feeds = test::random_feeds(m.graph, 31, 5);
  std::map<std::string, Tensor> state, inputs;
  for (const Buffer& b : p.buffers) {
    if (b.kind == BufferKind::state) state[b.name] = feeds.at(b.name);
    if (b.kind == BufferKind::input) inputs[b.name] = feeds.at(b.name);
  }
  auto executor = make_cpu_executor(make_executable({p}, state), 2);
  auto* observable = dynamic_cast<ObservableExecutor*>(executor.get());
  ASSERT_NE(observable, nullptr);
  ASSERT_NE(observable->program("train_step"), nullptr);
  EXPECT_EQ(observable->program("predict"), nullptr);

  std::vector<std::string> values;
  for (const auto& st : p.steps)
    for (const auto& [value, buffer] : st.values) values.push_back(value);
  EvalContext ctx;
  ctx.training = true;
  auto want = RefInterpreter(m.graph).run(feeds, values, ctx);
  int compared = 0;
  std::map<std::string, HostTensor> outs;
  // A step may compute a value into a temp and overwrite it in place with a
  // later value of the same step (a GEMM result under its epilogue); only
  // the last value written to those bytes is still there to compare.
  auto overwritten_later = [&](const Step& st, size_t i) {
    const Buffer& a = p.buffers[st.values[i].second];
    for (size_t j = i + 1; j < st.values.size(); ++j) {
      const Buffer& b = p.buffers[st.values[j].second];
      if (a.kind == BufferKind::temp && b.kind == BufferKind::temp && a.id != b.id && a.offset < b.offset + b.bytes() &&
          b.offset < a.offset + a.bytes())
        return true;
    }
    return false;
  };
  int skipped = 0;
  observable->run_observed("train_step", to_host_map(inputs), &outs, [&](int step, const BufferReader& read) {
    const Step& st = p.steps[step];
    for (size_t i = 0; i < st.values.size(); ++i) {
      const auto& [value, buffer] = st.values[i];
      if (overwritten_later(st, i)) {
        ++skipped;
        continue;
      }
      EXPECT_LE(test::worst_error(to_tensor(read(buffer)), want.at(value)), 1e-4) << "step " << step << " " << value;
      ++compared;
    }
  });
  EXPECT_EQ(compared + skipped, static_cast<int>(values.size()));
  EXPECT_GT(compared, 10);
}

// --- errors ----------------------------------------------------------------------

TEST(CpuExecutor, InputsAreCheckedAgainstTheSignature) {
  auto exe = make_executable({bias_relu(4, 3)}, {});
  auto cpu = make_cpu_executor(exe, 1);
  std::map<std::string, HostTensor> outs;
  try {
    cpu->run("predict", to_host_map({{"x", rand({4, 2}, 1)}, {"bias", rand({3}, 2)}}), &outs);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(test::contains_all(e.what(), {"'x'", "f32[4,2]", "f32[4,3]"})) << e.what();
  }
  try {
    cpu->run("predict", to_host_map({{"x", rand({4, 3}, 1)}}), &outs);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(test::contains_all(e.what(), {"needs input", "'bias'"})) << e.what();
  }
  EXPECT_THROW(cpu->run("train_step", {}, &outs), Error);
}

TEST(CpuExecutor, CodeAndProgramsThatDoNotBelongTogetherAreRefused) {
  // Kernels bake in the sizes and index maps of their programs, so code
  // from other programs, or programs altered after compiling, must not run.
  auto expect_refused = [](const proto::Executable& exe) {
    try {
      make_cpu_executor(exe, 1);
      ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("fingerprint"), std::string::npos) << e.what();
    }
  };
  auto exe = make_executable({bias_relu(4, 3)}, {});
  auto other_code = exe;
  other_code.set_code(cpu::compile_programs({bias_relu(4, 2)}));
  expect_refused(other_code);
  auto altered = exe;
  Program p = program_from_proto(altered.programs(0));
  p.buffers[2].dims = {2, 3};  // a smaller output the kernel would overrun
  p.buffers[2].numel = 6;
  auto& k = std::get<LoopKernel>(p.steps[0].body);
  k.dims = {2, 3};
  *altered.mutable_programs(0) = program_to_proto(p);
  expect_refused(altered);
  EXPECT_NO_THROW(make_cpu_executor(exe, 1));
}

// --- thread pool -----------------------------------------------------------------

TEST(ThreadPool, ChunksCoverTheRangeContiguouslyAndDeterministically) {
  for (int64_t n : {1, 2, 7, 100, 1023})
    for (int parts = 1; parts <= 5; ++parts) {
      int64_t expect_begin = 0;
      for (int i = 0; i < parts; ++i) {
        auto [b, e] = ThreadPool::chunk_range(n, parts, i);
        EXPECT_EQ(b, expect_begin);
        EXPECT_GE(e, b);
        EXPECT_LE(e - b, n / parts + 1);
        expect_begin = e;
      }
      EXPECT_EQ(expect_begin, n);
    }
}

TEST(ThreadPool, EveryIndexRunsOnceAndErrorsReachTheCaller) {
  ThreadPool pool(3);
  for (int round = 0; round < 200; ++round) {
    std::vector<int> hits(1000, 0);
    pool.parallel_for(1000, 3, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ++hits[i];
    });
    for (int h : hits) ASSERT_EQ(h, 1);
  }
  EXPECT_THROW(pool.parallel_for(10, 3,
                                 [](int64_t b, int64_t) {
                                   if (b > 0) throw Error("chunk failed");
                                 }),
               Error);
  std::atomic<int> calls{0};
  pool.parallel_for(5, 3, [&](int64_t, int64_t) { ++calls; });  // still usable
  EXPECT_EQ(calls.load(), 3);
}

}  // namespace
}  // namespace dlc
