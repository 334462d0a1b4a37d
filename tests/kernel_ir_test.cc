// The kernel IR itself: printing, serialization, validation of malformed
// programs, and the float64 evaluator on hand-written kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "compiler/passes/autodiff.h"
#include "compiler/passes/lower_optimizer.h"
#include "frontend/layers.h"
#include "ir/builder.h"
#include "ir/error.h"
#include "ir/verifier.h"
#include "tests/kernel_test_util.h"

namespace dlc {
namespace {

using test::expect_matches_reference;
using test::random_feeds;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// A train step that has every kind of step: GEMMs with epilogues, row
/// kernels, reductions, element-wise kernels and, in training, dropout
/// masks (Access::mask).
Model every_step_kind(bool with_dropout = true) {
  Model m;
  m.source = "kinds";
  GraphBuilder b(m.graph);
  auto x = b.input("x", {DType::f32, {6, 10}});
  auto y = b.input("y", {DType::i32, {6}}, proto::LABEL);
  auto h = relu(b, dense(b, x, 12, "fc1", init_normal(0.3)));
  if (with_dropout) h = dropout(b, h, 0.25, "drop");
  auto logits = dense(b, h, 4, "fc2", init_normal(0.3));
  b.output(b.op("argmax", {logits}, {}, "class"));
  m.training.set_loss(softmax_cross_entropy(b, logits, y, "loss"));
  m.training.mutable_optimizer()->set_kind("momentum");
  verify_or_throw(m);
  EXPECT_TRUE(AutodiffPass().run(m));
  EXPECT_TRUE(LowerOptimizerPass().run(m));
  verify_or_throw(m);
  return m;
}

TEST(KernelIr, PrintsReadableText) {
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {4, 6}});
  auto w = b.input("w", {DType::f32, {6}});
  auto y = b.op("relu", {b.add(x, w)}, {}, "y");
  Program p = build_program(g, {"predict", {y}, {}, false});
  std::string text = print_program(p);
  EXPECT_TRUE(contains(text, "program predict: 1 steps, 1 kernels")) << text;
  EXPECT_TRUE(contains(text, "dims [4,6]")) << text;
  EXPECT_TRUE(contains(text, "load $1 = b1 w [0,1]")) << text;  // broadcast: stride 0 over rows
  EXPECT_TRUE(contains(text, "store b2 y [6,1] = (max (add $0 $1) 0)")) << text;
}

TEST(KernelIr, EveryStepKindMatchesReference) {
  Model m = every_step_kind();
  for (const auto& e : entry_specs(m)) {
    SCOPED_TRACE(e.name);
    Program p = build_program(m.graph, e);
    auto kinds = test::step_kinds(p);
    EXPECT_GE(kinds["gemm"], 2);
    EXPECT_EQ(kinds.size(), kinds.count("loop") + kinds.count("gemm") + kinds.count("copy"));
    // Dropout in training, forward and gradient, fused into kernels that draw its mask.
    EXPECT_EQ(contains(print_program(p), "mask(key "), e.training) << print_program(p);
    // argmax, and in training the loss with its gradient: row kernels.
    int rows = 0;
    for (const auto& st : p.steps)
      if (st.loop() && st.loop()->reductions.size() >= 2) ++rows;
    EXPECT_GE(rows, 1) << print_program(p);
    expect_matches_reference(m.graph, e, p, random_feeds(m.graph, 4, 4), 1e-8);
  }
}

TEST(KernelIr, ProtoRoundTripIsExact) {
  Model m = every_step_kind();
  for (const auto& e : entry_specs(m)) {
    Program p = build_program(m.graph, e);
    proto::KernelProgram pb = program_to_proto(p);
    std::string bytes;
    ASSERT_TRUE(pb.SerializeToString(&bytes));
    proto::KernelProgram parsed;
    ASSERT_TRUE(parsed.ParseFromString(bytes));
    Program back = program_from_proto(parsed);
    EXPECT_EQ(print_program(back), print_program(p));
    EXPECT_EQ(back.explain, p.explain);
    expect_matches_reference(m.graph, e, back, random_feeds(m.graph, 5, 4), 1e-8);
  }
}

TEST(KernelIr, CorruptProgramsAreErrorsNotCrashes) {
  Model m = every_step_kind();
  Program p = build_program(m.graph, entry_specs(m).back());
  std::string bytes;
  ASSERT_TRUE(program_to_proto(p).SerializeToString(&bytes));
  std::mt19937_64 rng(17);
  int rejected = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::string bad = bytes;
    for (int k = 0; k < 3; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    if (trial % 4 == 0) bad.resize(rng() % bad.size());
    proto::KernelProgram parsed;
    if (!parsed.ParseFromString(bad)) continue;
    try {
      Program q = program_from_proto(parsed);
      (void)q;
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST(KernelIr, EveryStepsValuesMatchTheReferenceWhenItEnds) {
  // What --verify-fusion relies on: after each step, each value it lists
  // is in its buffer, even with temps packed and reused in place (without
  // dropout, relu's gradient is an epilogue that overwrites its GEMM's result).
  for (bool with_dropout : {true, false}) {
  Model m = every_step_kind(with_dropout);
  for (const auto& e : entry_specs(m)) {
    Program p = build_program(m.graph, e);
    auto feeds = random_feeds(m.graph, 6, 4);
    ProgramEvaluator eval(p);
    std::map<std::string, Tensor> inputs;
    for (const auto& b : p.buffers) {
      if (b.kind == BufferKind::state) eval.set_state(b.name, feeds.at(b.name));
      if (b.kind == BufferKind::input) inputs[b.name] = feeds.at(b.name);
    }
    std::vector<std::string> values;
    for (const auto& st : p.steps)
      for (const auto& [v, buffer] : st.values) values.push_back(v);
    EvalContext ctx;
    ctx.training = e.training;
    auto want = RefInterpreter(m.graph).run(feeds, values, ctx);
    int compared = 0;
    eval.after_step = [&](int step) {
      for (const auto& [v, buffer] : p.steps[step].values) {
        EXPECT_LE(test::worst_error(eval.buffer(buffer), want.at(v)), 1e-9) << e.name << " step " << step << " " << v;
        ++compared;
      }
    };
    eval.run(inputs, ctx);
    EXPECT_EQ(compared, static_cast<int>(values.size()));
    EXPECT_GE(compared, e.training ? 10 : 3);
  }
  }
}

/// One loop kernel over two buffers, for the checks below.
Program tiny_program() {
  Program p;
  p.entry = "t";
  p.buffers.push_back({0, "x", BufferKind::input, DType::f32, {2, 3}, 6, -1, {}});
  p.buffers.push_back({1, "y", BufferKind::output, DType::f32, {3}, 3, -1, {}});
  LoopKernel k;
  k.dims = {3, 2};  // column sums: keep the 3 columns, reduce the 2 rows
  k.reduce_dims = 1;
  k.loads.push_back({0, 0, {1, 3}, -1, std::nullopt});
  k.reductions = {{ReduceOp::sum, arg(0) * arg(0)}};
  k.stores.push_back({{1, 0, {1, 0}, -1, std::nullopt}, arg(1)});
  Step s;
  s.body = k;
  p.steps.push_back(s);
  return p;
}

TEST(KernelIr, CheckRejectsBadIndices) {
  EXPECT_NO_THROW(check_program(tiny_program()));
  auto expect_rejected = [](Program p, const std::string& what) {
    try {
      check_program(p);
      ADD_FAILURE() << "accepted: " << what;
    } catch (const Error& e) {
      EXPECT_TRUE(contains(e.what(), "step 0") || contains(e.what(), "buffer")) << e.what();
    }
  };
  Program p = tiny_program();
  std::get<LoopKernel>(p.steps[0].body).loads[0].strides = {1, 4};  // reaches element 7 of 6
  expect_rejected(p, "out of range");
  p = tiny_program();
  std::get<LoopKernel>(p.steps[0].body).loads[0].buffer = 9;
  expect_rejected(p, "bad buffer");
  p = tiny_program();
  std::get<LoopKernel>(p.steps[0].body).stores[0].at.buffer = 0;
  std::get<LoopKernel>(p.steps[0].body).stores[0].at.strides = {1, 0};
  expect_rejected(p, "store to an input");
  p = tiny_program();
  std::get<LoopKernel>(p.steps[0].body).stores[0].at.strides = {1, 1};
  expect_rejected(p, "store along a reduced dim");
  p = tiny_program();
  std::get<LoopKernel>(p.steps[0].body).stores[0].value = arg(5);
  expect_rejected(p, "expression arg");
  p = tiny_program();
  p.buffers[1].numel = 4;
  expect_rejected(p, "numel");
}

/// One convolution pass over x [2,3,7,7], w [4,3,3,3] and y [2,4,4,4]
/// (stride 2, padding 1): the buffer `pass` writes is the output, the other
/// two are inputs.
Program conv_program(ConvPass pass) {
  Program p;
  p.entry = "conv";
  ConvCall c;
  c.pass = pass;
  ConvGeometry& g = c.geometry;
  g.batch = 2, g.channels = 3, g.filters = 4;
  g.image[0] = g.image[1] = 7;
  g.kernel[0] = g.kernel[1] = 3;
  g.out[0] = g.out[1] = 4;
  g.stride[0] = g.stride[1] = 2;
  g.pad[0] = g.pad[1] = 1;
  auto kind = [&](ConvPass writer) { return pass == writer ? BufferKind::output : BufferKind::input; };
  c.image.buffer = test::add_buffer(p, kind(ConvPass::input_grad), "x", {2, 3, 7, 7});
  c.weight.buffer = test::add_buffer(p, kind(ConvPass::weight_grad), "w", {4, 3, 3, 3});
  c.result.buffer = test::add_buffer(p, kind(ConvPass::forward), "y", {2, 4, 4, 4});
  Step s;
  s.body = c;
  p.steps.push_back(s);
  return p;
}

// Every pass in the evaluator is the graph op's reference, and a ConvCall
// survives the executable format and its printing.
TEST(KernelIr, ConvolutionPassesMatchTheirOpsAndRoundTrip) {
  for (ConvPass pass : {ConvPass::forward, ConvPass::input_grad, ConvPass::weight_grad}) {
    SCOPED_TRACE(conv_pass_name(pass));
    Program p = conv_program(pass);
    ASSERT_NO_THROW(check_program(p));
    Program back = program_from_proto(program_to_proto(p));
    EXPECT_EQ(print_program(back), print_program(p));
    EXPECT_TRUE(contains(print_program(p), std::string("conv ") + conv_pass_name(pass) + " N 2 C 3 O 4")) << print_program(p);
    Graph g;
    GraphBuilder b(g);
    auto x = b.input("x", {DType::f32, {2, 3, 7, 7}});
    auto w = b.input("w", {DType::f32, {4, 3, 3, 3}});
    auto y = b.input("y", {DType::f32, {2, 4, 4, 4}});
    Attrs a = {{"strides", attr_ints({2, 2})}, {"pads", attr_ints({1, 1})}};
    std::string out;
    if (pass == ConvPass::forward) out = b.op("conv2d_forward", {x, w}, a);
    if (pass == ConvPass::input_grad) a["image"] = attr_ints({7, 7}), out = b.op("conv2d_input_grad", {y, w}, a);
    if (pass == ConvPass::weight_grad) a["kernel"] = attr_ints({3, 3}), out = b.op("conv2d_weight_grad", {x, y}, a);
    auto feeds = test::random_feeds(g, 3);
    std::map<std::string, Tensor> ins;
    for (const Buffer& buf : p.buffers)
      if (buf.kind == BufferKind::input) ins[buf.name] = feeds.at(buf.name);
    auto got = ProgramEvaluator(p).run(ins);
    const char* written = pass == ConvPass::forward ? "y" : pass == ConvPass::input_grad ? "x" : "w";
    Tensor want = RefInterpreter(g).run(feeds, {out}, EvalContext{}).at(out);
    EXPECT_LE(test::worst_error(got.at(written), want), 1e-6);
  }
}

TEST(KernelIr, CheckRejectsBadConvolutions) {
  auto rejected = [](Program p, const std::string& part) {
    try {
      check_program(p);
      ADD_FAILURE() << "accepted a program that should fail with: " << part;
    } catch (const Error& e) {
      EXPECT_TRUE(contains(e.what(), "step 0 (conv)") && contains(e.what(), part)) << e.what();
    }
  };
  auto conv = [](Program& p) -> ConvCall& { return std::get<ConvCall>(p.steps[0].body); };
  Program p = conv_program(ConvPass::forward);
  conv(p).geometry.out[1] = 5;  // stride 2 over 7 + 2 gives 4 positions
  rejected(p, "does not match its window");
  p = conv_program(ConvPass::forward);
  conv(p).image.offset = 1;  // the last image element lies past x
  rejected(p, "image reaches past its buffer");
  p = conv_program(ConvPass::forward);
  conv(p).geometry.filters = 5;  // y and w hold 4 filters
  rejected(p, "reaches past its buffer");
  p = conv_program(ConvPass::forward);
  conv(p).pass = ConvPass::input_grad;  // x is an input
  rejected(p, "writes read-only buffer");
  p = conv_program(ConvPass::forward);
  conv(p).weight.buffer = conv(p).result.buffer;  // reads what it writes (108 of its 128 elements)
  rejected(p, "reads a buffer it writes");
  p = conv_program(ConvPass::weight_grad);
  conv(p).geometry.stride[0] = 0;
  rejected(p, "bad convolution window");
  p = conv_program(ConvPass::weight_grad);
  p.buffers[1].dtype = DType::f64;
  rejected(p, "weight is not f32");
}

TEST(KernelIr, EvaluatorRunsStridedReductions) {
  Program p = tiny_program();
  ProgramEvaluator eval(p);
  Tensor x({DType::f32, {2, 3}}, {1, 2, 3, 4, 5, 6});
  auto out = eval.run({{"x", x}});
  EXPECT_EQ(out.at("y").data, (std::vector<double>{1 + 16, 4 + 25, 9 + 36}));
  // max keeps NaN, like ScalarOp::max.
  std::get<LoopKernel>(p.steps[0].body).reductions[0].op = ReduceOp::max;
  ProgramEvaluator eval_max(p);
  Tensor with_nan({DType::f32, {2, 3}}, {1, NAN, 3, -4, 5, 6});
  out = eval_max.run({{"x", with_nan}});
  EXPECT_EQ(out.at("y")[0], 16);
  EXPECT_TRUE(std::isnan(out.at("y")[1]));
  EXPECT_EQ(out.at("y")[2], 36);
}

/// y[i] = x[i - 1] for i in [0, 7), x of 5 elements: a guarded load padding
/// x by one element on each side with `pad`.
Program padding_program(double pad) {
  Program p;
  p.entry = "pad";
  int x = test::add_buffer(p, BufferKind::input, "x", {5});
  int y = test::add_buffer(p, BufferKind::output, "y", {7});
  LoopKernel k;
  k.dims = {7};
  Access load = test::at(x, {1}, -1);
  load.guards.push_back({-1, {1}, 5, 1});
  load.pad = pad;
  k.loads.push_back(load);
  k.stores.push_back({test::at(y, {1}), arg(0)});
  Step st;
  st.body = k;
  p.steps.push_back(st);
  return p;
}

TEST(KernelIr, GuardedLoadsYieldThePadOutsideTheirRange) {
  Program p = padding_program(-INFINITY);
  ASSERT_NO_THROW(check_program(p));
  Tensor x({DType::f32, {5}}, {1, 2, 3, 4, 5});
  auto out = ProgramEvaluator(p).run({{"x", x}});
  EXPECT_EQ(out.at("y").data, (std::vector<double>{-INFINITY, 1, 2, 3, 4, 5, -INFINITY}));
  // The guards and the pad survive the executable format and its printing.
  Program back = program_from_proto(program_to_proto(p));
  EXPECT_EQ(print_program(back), print_program(p));
  EXPECT_TRUE(contains(print_program(p), "guarded(pad -inf")) << print_program(p);
}

TEST(KernelIr, CheckRejectsGuardsThatLeaveTheirBuffer) {
  auto rejected = [](Program p, const std::string& part) {
    try {
      check_program(p);
      ADD_FAILURE() << "accepted a program that should fail with: " << part;
    } catch (const Error& e) {
      EXPECT_TRUE(contains(e.what(), part)) << e.what();
    }
  };
  Program p = padding_program(0);
  std::get<LoopKernel>(p.steps[0].body).loads[0].guards[0].extent = 6;  // lets x[5] through
  rejected(p, "reaches element 5");
  p = padding_program(0);
  std::get<LoopKernel>(p.steps[0].body).loads[0].strides = {2};  // address and guard disagree
  rejected(p, "strides are not those of its guards");
  p = padding_program(0);
  std::get<LoopKernel>(p.steps[0].body).loads[0].offset = -2;  // starts before the buffer
  rejected(p, "starts at element -1");
  p = padding_program(NAN);
  rejected(p, "NaN");
  p = padding_program(0);
  std::get<LoopKernel>(p.steps[0].body).stores[0].at.guards = std::get<LoopKernel>(p.steps[0].body).loads[0].guards;
  rejected(p, "a store has guards");
}

TEST(KernelIr, EvaluatorNamesMissingInputs) {
  ProgramEvaluator eval(tiny_program());
  try {
    eval.run({});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "'x'")) << e.what();
  }
}

}  // namespace
}  // namespace dlc
