// Fusion and lowering: kernel counts for small graphs, and the lowered
// program, run by the float64 kernel-IR evaluator, against the reference
// interpreter on the graph.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "compiler/fusion.h"
#include "compiler/passes/autodiff.h"
#include "compiler/passes/lower_optimizer.h"
#include "compiler/pipeline.h"
#include "frontend/model_loader.h"
#include "frontend/layers.h"
#include "ir/builder.h"
#include "ir/error.h"
#include "ir/verifier.h"
#include "tests/kernel_test_util.h"

namespace dlc {
namespace {

using test::expect_matches_reference;
using test::random_feeds;
using test::step_kinds;

bool has_line(const Program& p, const std::string& text) {
  for (const auto& l : p.explain)
    if (l.find(text) != std::string::npos) return true;
  return false;
}

TEST(Fusion, ElementwiseChainIsOneKernel) {
  // relu(x * w + b) * 2 - 1: five element-wise ops, with broadcasting.
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {4, 6}});
  auto w = b.input("w", {DType::f32, {6}});
  auto bias = b.input("b", {DType::f32, {4, 1}});
  auto y = b.sub(b.mul(b.op("relu", {b.add(b.mul(x, w), bias)}), b.scalar(2)), b.scalar(1));
  b.output(y);
  EntrySpec e{"predict", {y}, {}, false};
  Program p = build_program(g, e);
  EXPECT_EQ(p.kernel_count(), 1) << print_program(p);
  ASSERT_TRUE(p.steps[0].loop());
  EXPECT_EQ(p.steps[0].loop()->loads.size(), 3u);  // x, w, b: nothing else touches memory
  EXPECT_TRUE(has_line(p, "(elementwise group)"));
  expect_matches_reference(g, e, p, random_feeds(g, 1));
}

/// A random DAG of element-wise ops over broadcastable shapes.
std::string random_elementwise_graph(Graph& g, uint64_t seed) {
  std::mt19937_64 rng(seed);
  GraphBuilder b(g);
  std::vector<std::vector<int64_t>> shapes = {{3, 5}, {5}, {3, 1}, {1, 5}, {}};
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
      std::string c = values[rng() % values.size()];
      values.push_back(b.op(binary[rng() % 5], {a, c}));
    }
  }
  // Combine everything so one output depends on the whole DAG.
  std::string out = values.back();
  for (size_t i = values.size() - 2; i >= 4 && i < values.size(); --i)
    if (rng() % 2) out = b.add(out, values[i]);
  if (g.type_of(out).dims != std::vector<int64_t>{3, 5}) out = b.add(out, b.input("full", {DType::f32, {3, 5}}));
  b.output(out);
  return out;
}

TEST(Fusion, RandomElementwiseGraphsFuseIntoOneKernel) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    Graph g;
    std::string out = random_elementwise_graph(g, seed);
    verify_or_throw(g);
    EntrySpec e{"predict", {out}, {}, false};
    Program p = build_program(g, e);
    EXPECT_EQ(p.kernel_count(), 1) << "seed " << seed << "\n" << print_program(p);
    expect_matches_reference(g, e, p, random_feeds(g, seed));
  }
}

TEST(Fusion, ProducersFuseIntoReduction) {
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {5, 7}});
  auto s = b.reduce_sum(b.op("exp", {b.mul(x, x)}), {0});  // column sums: a strided reduction
  auto m = b.op("reduce_max", {b.op("tanh", {x})}, {{"axes", attr_ints({1})}, {"keepdims", attr_b(true)}});
  auto mean = b.op("reduce_mean", {b.op("abs", {x})});
  b.output(s);
  b.output(m);
  b.output(mean);
  EntrySpec e{"predict", {s, m, mean}, {}, false};
  Program p = build_program(g, e);
  EXPECT_EQ(p.kernel_count(), 3) << print_program(p);
  for (const auto& st : p.steps) {
    ASSERT_TRUE(st.loop());
    EXPECT_TRUE(st.loop()->reduces());
  }
  expect_matches_reference(g, e, p, random_feeds(g, 3));
}

TEST(Fusion, SoftmaxIsOneRowKernel) {
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {4, 9}});
  auto p1 = b.op("softmax", {b.mul(x, b.scalar(3))});
  auto p2 = b.op("log_softmax", {x});
  b.output(p1);
  b.output(p2);
  EntrySpec e{"predict", {p1, p2}, {}, false};
  Program p = build_program(g, e);
  // Both are primitives after expansion: max, sum of exp, per-element
  // division; over the same rows of x they share one kernel (x * 3 inlined).
  ASSERT_EQ(p.kernel_count(), 1) << print_program(p);
  const LoopKernel& k = *p.steps[0].loop();
  EXPECT_EQ(k.reductions.size(), 4u);
  int per_element = 0;
  for (const auto& st : k.stores) per_element += st.per_element ? 1 : 0;
  EXPECT_EQ(per_element, 2);
  expect_matches_reference(g, e, p, random_feeds(g, 4));
}

/// x[8,12] -> dense 16 relu -> dense 5 -> softmax cross-entropy.
Model small_mlp(const std::string& optimizer) {
  Model m;
  m.source = "mlp";
  GraphBuilder b(m.graph);
  auto x = b.input("x", {DType::f32, {8, 12}});
  auto y = b.input("y", {DType::i32, {8}}, proto::LABEL);
  auto h = relu(b, dense(b, x, 16, "fc1", init_normal(0.3)), "h");
  auto logits = dense(b, h, 5, "fc2", init_normal(0.3));
  b.output(logits);
  m.training.set_loss(softmax_cross_entropy(b, logits, y, "loss"));
  m.training.mutable_optimizer()->set_kind(optimizer);
  verify_or_throw(m);
  return m;
}

TEST(Fusion, MlpForwardUsesGemmEpilogues) {
  Model m = small_mlp("sgd");
  EntrySpec e{"predict", m.graph.outputs, {}, false};
  Program p = build_program(m.graph, e);
  auto kinds = step_kinds(p);
  EXPECT_EQ(kinds["gemm"], 2) << print_program(p);
  EXPECT_EQ(p.kernel_count(), 2) << print_program(p);  // bias + relu, and bias, are GEMM epilogues
  for (const auto& s : p.steps) ASSERT_TRUE(s.gemm() && s.gemm()->has_epilogue()) << print_program(p);
  EXPECT_TRUE(has_line(p, "kept separate: library call"));
  auto feeds = random_feeds(m.graph, 5, 5);
  expect_matches_reference(m.graph, e, p, feeds);
}

Model trained(const std::string& optimizer) {
  Model m = small_mlp(optimizer);
  EXPECT_TRUE(AutodiffPass().run(m));
  EXPECT_TRUE(LowerOptimizerPass().run(m));
  verify_or_throw(m);
  return m;
}

EntrySpec train_spec(const Model& m) {
  for (const auto& e : entry_specs(m))
    if (e.name == "train_step") return e;
  ADD_FAILURE() << "no train_step";
  return {};
}

/// The kernels that write state `s` (directly or by a final copy's source).
int kernels_storing(const Program& p, const std::string& value) {
  int n = 0;
  for (const auto& st : p.steps)
    for (const auto& [v, b] : st.values)
      if (v == value && !st.copy()) ++n;
  return n;
}

TEST(Fusion, TrainStepMatchesReferenceForEveryOptimizer) {
  for (const char* opt : {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw"}) {
    Model m = trained(opt);
    EntrySpec e = train_spec(m);
    Program p = build_program(m.graph, e);
    auto feeds = random_feeds(m.graph, 11, 5);
    SCOPED_TRACE(opt);
    expect_matches_reference(m.graph, e, p, feeds, 1e-8);
    // The loss's reductions and its gradient are one row kernel.
    int rows = 0;
    for (const auto& st : p.steps)
      if (st.loop() && st.loop()->reductions.size() >= 3 && st.loop()->has_per_element_stores()) ++rows;
    EXPECT_EQ(rows, 1) << print_program(p);
  }
}

TEST(Fusion, UpdateOfOneParameterIsOneKernelForEveryOptimizer) {
  for (const char* opt : {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw"}) {
    SCOPED_TRACE(opt);
    Model m = trained(opt);
    EntrySpec e = train_spec(m);
    Program p = build_program(m.graph, e);
    int parameters = 0;
    // A state is named after its parameter: fc1.w.m, fc1.w.v, ...
    auto is_state_of = [](const std::string& s, const std::string& w) { return s.rfind(w + ".", 0) == 0; };
    for (const auto& [w, w_value] : e.updates) {
      bool is_state = false;
      for (const auto& [other, unused] : e.updates) is_state = is_state || is_state_of(w, other);
      if (is_state) continue;  // checked with its parameter
      ++parameters;
      // The new values of the parameter's state (w.m, w.v, w.acc, ...).
      std::vector<std::string> state_values;
      for (const auto& [s, v] : e.updates)
        if (is_state_of(s, w)) state_values.push_back(v);
      // Exactly one kernel stores the parameter, and it stores all its state too.
      int found = 0;
      for (const auto& st : p.steps) {
        if (st.copy()) continue;
        std::set<std::string> stored;
        for (const auto& [v, b] : st.values) stored.insert(v);
        if (!stored.count(w_value)) continue;
        ++found;
        for (const auto& v : state_values) EXPECT_TRUE(stored.count(v)) << w << " " << v << "\n" << print_program(p);
      }
      EXPECT_EQ(found, 1) << w << "\n" << print_program(p);
      for (const auto& v : state_values) EXPECT_EQ(kernels_storing(p, v), 1) << v;
    }
    EXPECT_GE(parameters, 2);
    // Every update is written in place: nothing reads a parameter after its update.
    EXPECT_EQ(step_kinds(p)["copy"], 0) << print_program(p);
  }
}

/// loss = sum((w - x)^2) over a parameter of `n` elements, trained by Adam.
Model adam_on_one_parameter(int64_t n) {
  Model m;
  m.source = "one";
  GraphBuilder b(m.graph);
  auto x = b.input("x", {DType::f32, {n}});
  auto w = b.param("w", {DType::f32, {n}}, init_normal(1));
  m.training.set_loss(b.reduce_sum(b.op("square", {b.sub(w, x)}), {0}));
  m.training.mutable_optimizer()->set_kind("adam");
  verify_or_throw(m);
  EXPECT_TRUE(AutodiffPass().run(m));
  EXPECT_TRUE(LowerOptimizerPass().run(m));
  verify_or_throw(m);
  return m;
}

TEST(Fusion, AdamOnOneParameterCountsKernels) {
  // The loss is a reduction; the gradient 2(w - x) and the whole update of
  // w, m and v are one kernel. The bias corrections 1 - beta^step (pow) are
  // recomputed per element while that stays within the budget...
  Model small = adam_on_one_parameter(6);
  EntrySpec e = train_spec(small);
  Program p = build_program(small.graph, e);
  EXPECT_EQ(p.kernel_count(), 2) << print_program(p);
  EXPECT_TRUE(has_line(p, "recomputed: broadcast into a larger loop")) << print_program(p);
  expect_matches_reference(small.graph, e, p, random_feeds(small.graph, 2), 1e-8);
  // ...and computed once, by one small kernel for both, when it would not.
  Model large = adam_on_one_parameter(8192);
  e = train_spec(large);
  p = build_program(large.graph, e);
  EXPECT_EQ(p.kernel_count(), 3) << print_program(p);
  EXPECT_TRUE(has_line(p, "over the budget")) << print_program(p);
  expect_matches_reference(large.graph, e, p, random_feeds(large.graph, 2), 1e-8);
}

TEST(Fusion, StateReadAfterItsUpdateIsCopiedAtTheEnd) {
  // w's new value is computed early, but a later output reads the old w:
  // writing in place would change that output.
  Model m;
  GraphBuilder b(m.graph);
  auto x = b.input("x", {DType::f32, {4}});
  auto w = b.param("w", {DType::f32, {4}}, init_normal(1));
  auto w_new = b.sub(w, x);
  auto total = b.reduce_sum(b.mul(w, w_new), {});  // reads old w and the new value
  auto late = b.op("exp", {b.add(total, b.reduce_sum(w, {}))});
  EntrySpec e{"train_step", {late}, {{w, w_new}}, true};
  verify_or_throw(m.graph);
  Program p = build_program(m.graph, e);
  EXPECT_EQ(step_kinds(p)["copy"], 1) << print_program(p);
  EXPECT_TRUE(has_line(p, "copied into state 'w' at the end")) << print_program(p);
  expect_matches_reference(m.graph, e, p, random_feeds(m.graph, 9));
}

TEST(Fusion, ExpensiveSharedValueIsStoredCheapOneRecomputed) {
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {64, 128}});  // big enough that recomputing exp(tanh) is over budget
  auto cheap = b.mul(x, b.scalar(2));
  auto costly = b.op("exp", {b.op("tanh", {x})});
  // Two reductions over different axes: each is its own kernel.
  auto r0 = b.reduce_sum(b.add(cheap, costly), {0});
  auto r1 = b.reduce_sum(b.mul(cheap, costly), {1});
  EntrySpec e{"predict", {r0, r1}, {}, false};
  Program p = build_program(g, e);
  EXPECT_TRUE(has_line(p, "%" + cheap + " recomputed")) << print_program(p);
  EXPECT_TRUE(has_line(p, "%" + costly + " stored")) << print_program(p);
  EXPECT_EQ(p.kernel_count(), 3);
  // At a small size the same graph recomputes exp(tanh(x)) instead.
  Graph small;
  GraphBuilder sb(small);
  auto sx = sb.input("x", {DType::f32, {6, 4}});
  auto sc = sb.mul(sx, sb.scalar(2));
  auto se = sb.op("exp", {sb.op("tanh", {sx})});
  EntrySpec se_spec{"predict", {sb.reduce_sum(sb.add(sc, se), {0}), sb.reduce_sum(sb.mul(sc, se), {1})}, {}, false};
  EXPECT_EQ(build_program(small, se_spec).kernel_count(), 2);
  expect_matches_reference(g, e, p, random_feeds(g, 6));
}

TEST(Fusion, ShapeOpsBecomeIndexMaps) {
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {3, 4}});
  auto v = b.input("v", {DType::f32, {3}});
  auto t = b.op("transpose", {x});                          // [4,3]
  auto r = b.reshape(v, {1, 3});                            // relabel
  auto bc = b.broadcast_to(r, {4, 3});
  auto y = b.add(b.op("relu", {t}), bc);
  auto flat = b.reshape(b.op("exp", {y}), {12});            // a real reshape: exp(y) is stored first
  auto z = b.mul(flat, b.scalar(0.5));
  EntrySpec e{"predict", {z}, {}, false};
  Program p = build_program(g, e);
  EXPECT_EQ(p.kernel_count(), 2) << print_program(p);
  expect_matches_reference(g, e, p, random_feeds(g, 8));
}

TEST(Fusion, GemmReadsAReshapeOfATransposeInPlaceWhenItsDimsMergeAsOneRun) {
  // x [2,3,4] transposed to [4,2,3]: its last two dims still walk memory as
  // one run (strides 12 and 4), so reshaping them into 6 is a view the GEMM
  // reads with a leading dimension; transposed to [4,3,2] they do not
  // (strides 4 and 12), and the reshape's data is copied into order first.
  for (bool one_run : {true, false}) {
    Graph g;
    GraphBuilder b(g);
    auto x = b.input("x", {DType::f32, {2, 3, 4}});
    auto w = b.input("w", {DType::f32, {6, 5}});
    std::vector<int64_t> perm = one_run ? std::vector<int64_t>{2, 0, 1} : std::vector<int64_t>{2, 1, 0};
    auto t = b.op("transpose", {x}, {{"perm", attr_ints(perm)}});
    auto y = b.matmul(b.reshape(t, {4, 6}), w);
    EntrySpec e{"predict", {y}, {}, false};
    Program p = build_program(g, e);
    EXPECT_EQ(p.kernel_count(), one_run ? 1 : 2) << print_program(p);
    expect_matches_reference(g, e, p, random_feeds(g, 3));
  }
}

TEST(Fusion, OneHotFusesThroughTheLoopIndex) {
  Graph g;
  GraphBuilder b(g);
  auto y = b.input("y", {DType::i64, {5}}, proto::LABEL);
  auto s = b.input("s", {DType::f32, {5, 4}});
  auto hot = b.op("one_hot", {y}, {{"depth", attr_i(4)}});
  auto out = b.reduce_sum(b.mul(hot, s), {1});
  EntrySpec e{"predict", {out}, {}, false};
  Program p = build_program(g, e);
  EXPECT_EQ(p.kernel_count(), 1) << print_program(p);
  expect_matches_reference(g, e, p, random_feeds(g, 10, 4));
}

TEST(Fusion, ArgmaxIsOneRowKernelWithTiesAndNaNAsTheReference) {
  // argmax expands into max, then the least index at the max (or a NaN):
  // two reductions of one row kernel, no reference call.
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {5, 4}});
  auto am = b.op("argmax", {b.op("exp", {x})});
  EntrySpec e{"predict", {am}, {}, false};
  Program p = build_program(g, e);
  ASSERT_EQ(p.kernel_count(), 1) << print_program(p);
  EXPECT_EQ(p.steps[0].loop()->reductions.size(), 2u);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor xs({DType::f32, {5, 4}}, {0, 1, 1, 0,          // a tie: the first max wins
                                   3, 2, 1, 0,          // the max first
                                   0, nan, 5, nan,      // the first NaN wins
                                   -1, -1, -1, -1,      // all equal
                                   0.5, 0.25, 0.75, 1});
  expect_matches_reference(g, e, p, {{x, xs}});
  expect_matches_reference(g, e, p, random_feeds(g, 12));
}

/// Kernel counts of every model in models/ at batch 32, forward and train
/// step, so a fusion regression fails here. Each program must also agree
/// with the reference interpreter and hold only kernels (loops, GEMMs) and
/// copies: no node runs through the interpreter.
TEST(Fusion, ModelKernelCountsArePinned) {
  struct Want {
    const char* model;
    int predict, train_step;
  };
  // mlp_mnist, train step: 3 GEMMs with bias + relu epilogues (the last
  // without one: its bias add joins the loss's row kernel); Adam's bias
  // corrections; one row kernel for the loss's reductions per row (max, sum
  // of exp, x[label], labels in range), the probabilities and the loss
  // gradient; the mean loss; 2 GEMMs with relu' epilogues; 3 bias-gradient
  // reductions, each with its bias's update; 3 weight-gradient GEMMs, each
  // with its weight's update as epilogue. (15 before composites expanded.)
  const Want wants[] = {
      {"linear_regression", 1, 5}, {"perceptron", 1, 5},  {"logistic_regression", 1, 5},
      {"softmax_regression", 2, 5}, {"mlp_mnist", 4, 14},
      // Dropout joins the first GEMM's epilogue (bias, relu, mask) and, in
      // the gradient, the relu' epilogue: no kernel of its own.
      {"mlp_dropout", 3, 10},
      // lenet5, predict: per convolution the library call (conv2d_forward)
      // and bias + relu over its NCHW result; per pooling one row kernel:
      // the max over each 2x2 window, which tile the image, so the windows
      // are a view of it (no patches) and the max is written in NCHW, which
      // the next convolution reads densely; three dense GEMMs with bias +
      // relu epilogues; the softmax row kernel. train_step adds to each
      // pooling's row kernel the count of each window's maxima, then its
      // gradient (one row kernel, writing the image's gradient through the
      // same view: no fold kernel), conv2's input gradient (one library call),
      // each convolution's weight gradient (a library call, then the Adam
      // update as a loop) and bias gradient (a reduction with its update).
      {"lenet5", 10, 32},
      // cnn_bn adds the batch norms' statistics and their gradients (row
      // kernels over each channel) and dropout, which fuses into its
      // neighbours; its convolutions have no bias.
      {"cnn_bn", 9, 42},
  };
  std::set<std::string> listed;
  for (const auto& want : wants) listed.insert(std::string(want.model) + ".pbtxt");
  for (const auto& entry : std::filesystem::directory_iterator(test::source_path("models"))) {
    if (entry.path().extension() != ".pbtxt") continue;
    EXPECT_TRUE(listed.count(entry.path().filename().string())) << entry.path() << " has no kernel counts here";
  }
  for (const auto& want : wants) {
    SCOPED_TRACE(want.model);
    Model m = load_model(test::source_path(std::string("models/") + want.model + ".pbtxt"));
    CompileOptions opts;
    opts.batch = 32;
    run_graph_passes(m, opts);
    for (const auto& e : entry_specs(m)) {
      Program p = build_program(m.graph, e);
      EXPECT_EQ(p.kernel_count(), e.training ? want.train_step : want.predict) << print_program(p);
      // Every model is native code through and through.
      for (const auto& [kind, n] : step_kinds(p))
        EXPECT_TRUE(kind == "loop" || kind == "gemm" || kind == "copy" || kind == "conv") << kind << " x" << n;
      expect_matches_reference(m.graph, e, p, random_feeds(m.graph, 21, 2), 1e-8);
    }
  }
}

// Pooling reads its image where it lies: extract_patches is inlined into the
// reduction as loads whose guards yield the pad (-inf for max, 0 for mean)
// outside the image, and the transposed view writes NCHW: no window step,
// no patches buffer. When two kernels read the patches (max pooling and its
// gradient), they are stored once.
TEST(Fusion, PoolingReadsItsImageThroughGuardedLoads) {
  struct Case {
    const char* op;
    std::vector<int64_t> kernel, strides, pads;
  };
  const Case cases[] = {{"max_pool2d", {3, 3}, {2, 2}, {1, 1}},  // overlapping windows over the pad
                        {"avg_pool2d", {2, 3}, {1, 2}, {1, 0}},
                        {"max_pool2d", {2, 2}, {2, 2}, {0, 0}}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.op);
    Graph g;
    GraphBuilder b(g);
    auto x = b.input("x", {DType::f32, {2, 3, 7, 6}});
    auto a = b.op("tanh", {x});  // in memory as a computed value, not a graph input
    auto y = b.op(c.op, {a}, {{"kernel", attr_ints(c.kernel)}, {"strides", attr_ints(c.strides)},
                             {"pads", attr_ints(c.pads)}});
    auto loss = b.op("reduce_sum", {b.mul(y, y)});
    auto grads = append_gradients(g, loss, {x});
    b.output(y);
    b.output(grads.at(x));
    // With max pooling's gradient (which compares each patch element with
    // its window's max), the patches are read by two kernels and stored
    // once; a mean's gradient does not read them.
    EntrySpec with_grad{"grad", {y, grads.at(x)}, {}, false};
    Program pg = build_program(g, with_grad);
    int patches = 0;
    for (const auto& buf : pg.buffers) patches += buf.name.rfind("extract_patches", 0) == 0;
    EXPECT_EQ(patches, std::string(c.op) == "max_pool2d" ? 1 : 0) << print_program(pg);
    expect_matches_reference(g, with_grad, pg, random_feeds(g, 31), 1e-9);

    EntrySpec e{"predict", {y}, {}, false};
    Program p = build_program(g, e);
    // No patches buffer: every extract_patches is read where its image lies.
    for (const auto& buf : p.buffers) EXPECT_EQ(buf.name.rfind("extract_patches", 0), std::string::npos) << buf.name;
    // The step writing the pooled output reduces over guarded loads of tanh's result.
    const int pooled = p.find_buffer(BufferKind::output, y), image = p.find_buffer(BufferKind::temp, a);
    int pooling_steps = 0;
    for (const auto& st : p.steps) {
      const LoopKernel* k = st.loop();
      ASSERT_TRUE(k) << print_program(p);  // no window step
      bool writes_pooled = false, reads_image_guarded = false;
      for (const auto& sto : k->stores) writes_pooled |= sto.at.buffer == pooled;
      for (const auto& l : k->loads) reads_image_guarded |= l.buffer == image && !l.guards.empty();
      if (!writes_pooled) continue;
      ++pooling_steps;
      EXPECT_TRUE(k->reduces() && reads_image_guarded) << print_program(p);
    }
    EXPECT_EQ(pooling_steps, 1) << print_program(p);
    expect_matches_reference(g, e, p, random_feeds(g, 31), 1e-9);
  }
}

// Windows that tile the image (2x2 pooling of an even image, a 1x3 one, a
// patchify convolution's 2x3 patches) put each pixel in one window: the
// patches are the image seen through a reshape and a transpose, and their
// gradient is the image's gradient seen the same way. Pooling reads the
// image in place (no extract_patches, no guards, no patches buffer), and no
// gradient has a fold_patches node: the loop that makes the patches'
// gradient writes the image's.
TEST(Fusion, TilingWindowsAreViewsOfTheImage) {
  struct Case {
    const char* op;
    std::vector<int64_t> image, kernel;
  };
  const Case cases[] = {{"max_pool2d", {2, 3, 8, 6}, {2, 2}},
                        {"max_pool2d", {2, 3, 7, 6}, {1, 3}},
                        {"avg_pool2d", {2, 3, 8, 6}, {2, 3}},
                        {"extract_patches", {2, 3, 4, 6}, {2, 3}}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.op) + " " + std::to_string(c.kernel[0]) + "x" + std::to_string(c.kernel[1]));
    Graph g;
    GraphBuilder b(g);
    auto x = b.input("x", {DType::f32, c.image});
    auto a = b.op("tanh", {x});  // in memory as a computed value, not a graph input
    auto y = b.op(c.op, {a}, {{"kernel", attr_ints(c.kernel)}, {"strides", attr_ints(c.kernel)}});
    auto loss = b.op("reduce_sum", {b.mul(y, y)});
    auto grads = append_gradients(g, loss, {x});
    b.output(y);
    b.output(grads.at(x));
    const bool pooling = std::string(c.op) != "extract_patches";
    for (const Node& n : g.nodes) {
      EXPECT_NE(n.op, "fold_patches") << n.name;
      if (pooling) EXPECT_NE(n.op, "extract_patches") << n.name;
    }
    EntrySpec e{"grad", {y, grads.at(x)}, {}, false};
    Program p = build_program(g, e);
    EXPECT_EQ(step_kinds(p), (std::map<std::string, int>{{"loop", p.kernel_count()}})) << print_program(p);
    if (pooling)
      for (const auto& st : p.steps)
        for (const auto& l : st.loop()->loads) EXPECT_TRUE(l.guards.empty()) << print_program(p);
    expect_matches_reference(g, e, p, random_feeds(g, 41), 1e-9);
  }
}

// Target cuda (and dlc compile --conv-as-gemm) lowers every convolution as
// im2col + GEMM + col2im: no library call is left. Each convolution's
// patches are a kernel of their own (a GEMM operand lies in memory); the
// poolings read their images through guarded loads, as on cpu.
TEST(Fusion, ConvolutionsAsGemmLeaveNoLibraryCall) {
  const std::pair<const char*, std::pair<int, int>> wants[] = {{"lenet5", {12, 33}}, {"cnn_bn", {11, 45}}};
  for (const auto& [model, counts] : wants) {
    SCOPED_TRACE(model);
    Model m = load_model(test::source_path(std::string("models/") + model + ".pbtxt"));
    CompileOptions opts;
    opts.batch = 32;
    opts.convolutions_as_gemm = true;
    run_graph_passes(m, opts);
    for (const auto& e : entry_specs(m)) {
      Program p = build_program(m.graph, e);
      EXPECT_EQ(p.kernel_count(), e.training ? counts.second : counts.first) << print_program(p);
      auto kinds = step_kinds(p);
      EXPECT_EQ(kinds.count("conv"), 0u) << print_program(p);
      EXPECT_GT(kinds["gemm"], 3);
      expect_matches_reference(m.graph, e, p, random_feeds(m.graph, 22, 2), 1e-8);
    }
  }
}

TEST(Fusion, GemmReadsTransposedViewsDirectly) {
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {5, 3}});
  auto w = b.input("w", {DType::f32, {4, 5}});
  auto y1 = b.matmul(b.op("transpose", {x}), b.op("transpose", {w}));  // [3,5] x [5,4]
  auto y2 = b.matmul(b.op("transpose", {x}), w, false, true);          // flags and views combined
  auto y3 = b.matmul(b.op("exp", {x}), w, true, true);                 // an inlined operand is stored first
  EntrySpec e{"predict", {y1, y2, y3}, {}, false};
  Program p = build_program(g, e);
  auto kinds = step_kinds(p);
  EXPECT_EQ(kinds["gemm"], 3) << print_program(p);
  EXPECT_EQ(kinds["loop"], 1) << print_program(p);  // exp(x); no copies for the transposes
  expect_matches_reference(g, e, p, random_feeds(g, 13));
}

TEST(Fusion, OutputsAndUpdatesOfSourcesAreCopied) {
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {2, 3}});
  auto w = b.param("w", {DType::f32, {3, 2}}, init_normal(1));
  auto v = b.param("v", {DType::f32, {2, 3}}, init_normal(1));
  auto wt = b.op("transpose", {w});  // an output that is a view of a state
  // v := x and w := transpose(v) - the old v, while v changes in the same step.
  auto vt = b.op("transpose", {v});
  EntrySpec e{"train_step", {x, w, wt}, {{v, x}, {w, vt}}, true};
  verify_or_throw(g);
  Program p = build_program(g, e);
  expect_matches_reference(g, e, p, random_feeds(g, 14));
  // x and w leave by copies; v := x needs a snapshot of x and a final copy.
  EXPECT_GE(step_kinds(p)["copy"], 3) << print_program(p);
}

TEST(Fusion, IntegerAndBoolValuesKeepTheirDtypes) {
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {4, 5}});
  auto mask = b.op("greater", {x, b.scalar(0)});
  auto as_int = b.cast(b.mul(x, b.scalar(10)), DType::i32);
  auto halves = b.div(as_int, b.fill(3, {DType::i32, {}}));  // integer division truncates
  auto picked = b.op("where", {mask, x, b.neg(x)});
  auto twice = b.mul(b.cast(halves, DType::f32), b.scalar(0.5));  // uses the truncated quotient
  EntrySpec e{"predict", {mask, halves, picked, twice}, {}, false};
  Program p = build_program(g, e);
  EXPECT_EQ(p.kernel_count(), 1) << print_program(p);
  expect_matches_reference(g, e, p, random_feeds(g, 15));
}

TEST(Fusion, UnknownOutputIsAnError) {
  Graph g;
  GraphBuilder b(g);
  b.input("x", {DType::f32, {2}});
  EXPECT_THROW(build_program(g, {"predict", {"nope"}, {}, false}), Error);
}

}  // namespace
}  // namespace dlc
