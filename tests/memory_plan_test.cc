// Memory planning: live temps never share bytes (checked exhaustively at
// every step), reuse makes the arena smaller than the sum of the temps,
// in-place reuse happens where it is legal, and programs still compute the
// reference interpreter's numbers with their temps packed into the arena.
#include <gtest/gtest.h>

#include "compiler/passes/autodiff.h"
#include "compiler/passes/lower_optimizer.h"
#include "frontend/layers.h"
#include "ir/builder.h"
#include "ir/verifier.h"
#include "tests/kernel_test_util.h"

namespace dlc {
namespace {

using test::expect_matches_reference;
using test::expect_no_live_overlap;
using test::random_feeds;

/// softmax, then *2, repeated: each link is one row kernel whose per-element
/// store of softmax * 2 reads the link's input, which dies there.
std::string softmax_chain(Graph& g, int links) {
  GraphBuilder b(g);
  std::string v = b.input("x", {DType::f32, {16, 32}});
  for (int i = 0; i < links; ++i) v = b.mul(b.op("softmax", {v}), b.scalar(2));
  return v;
}

TEST(MemoryPlan, ChainReusesTwoSlots) {
  Graph g;
  std::string out = softmax_chain(g, 8);
  EntrySpec e{"predict", {out}, {}, false};
  Program p = lower_to_kernels(g, e);
  MemoryStats stats = plan_memory(p);
  check_program(p);
  int64_t one = 16 * 32 * 4;
  EXPECT_EQ(p.kernel_count(), 8) << print_program(p);
  // The outputs of links 1..7, each written over its input; the last link
  // recomputes link 7's values from its stored exp and row sums instead.
  EXPECT_EQ(stats.unplanned_bytes, 7 * one + 16 * 4) << print_program(p);
  EXPECT_LE(stats.arena_bytes, one + 16 * 4) << print_program(p);
  EXPECT_EQ(p.arena_bytes, stats.arena_bytes);
  EXPECT_FALSE(stats.in_place.empty());
  for (const auto& ip : stats.in_place) EXPECT_EQ(p.buffers[ip.from].offset, p.buffers[ip.to].offset);
  expect_no_live_overlap(p, stats);
  expect_matches_reference(g, e, p, random_feeds(g, 1));
}

TEST(MemoryPlan, InPlaceNeedsTheSameIndexMap) {
  // y = softmax(x); z = y + transpose(y): the kernel storing z reads y at
  // other elements too, so z must not take y's bytes.
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {8, 8}});
  auto y = b.op("softmax", {x});
  auto z = b.op("softmax", {b.add(y, b.op("transpose", {y}))});
  EntrySpec e{"predict", {z}, {}, false};
  Program p = lower_to_kernels(g, e);
  MemoryStats stats = plan_memory(p);
  check_program(p);
  for (const auto& ip : stats.in_place) EXPECT_NE(p.buffers[ip.from].name, y) << print_program(p);
  expect_no_live_overlap(p, stats);
  expect_matches_reference(g, e, p, random_feeds(g, 2));
}

TEST(MemoryPlan, LifetimesFollowTheSchedule) {
  Graph g;
  std::string out = softmax_chain(g, 2);
  Program p = lower_to_kernels(g, {"predict", {out}, {}, false});
  plan_memory(p);
  std::vector<Lifetime> life = buffer_lifetimes(p);
  for (const auto& b : p.buffers) {
    if (b.kind != BufferKind::temp) continue;
    // Every temp is written before it is read, and read by a later step.
    std::vector<int> reads, writes;
    step_buffers(p.steps[life[b.id].first], &reads, &writes);
    EXPECT_NE(std::find(writes.begin(), writes.end(), b.id), writes.end()) << b.name;
    EXPECT_GT(life[b.id].last, life[b.id].first) << b.name;
  }
}

Model mlp_model(const std::string& optimizer) {
  Model m;
  m.source = "mlp";
  GraphBuilder b(m.graph);
  auto x = b.input("x", {DType::f32, {16, 20}});
  auto y = b.input("y", {DType::i32, {16}}, proto::LABEL);
  auto logits = mlp(b, x, {32, 24, 6}, "relu", init_normal(0.3));
  b.output(softmax(b, logits, -1, "probs"));
  m.training.set_loss(softmax_cross_entropy(b, logits, y, "loss"));
  m.training.mutable_optimizer()->set_kind(optimizer);
  verify_or_throw(m);
  EXPECT_TRUE(AutodiffPass().run(m));
  EXPECT_TRUE(LowerOptimizerPass().run(m));
  verify_or_throw(m);
  return m;
}

TEST(MemoryPlan, MlpTrainStepPacksTempsAndStaysCorrect) {
  for (const char* opt : {"sgd", "momentum", "adam"}) {
    SCOPED_TRACE(opt);
    Model m = mlp_model(opt);
    for (const auto& e : entry_specs(m)) {
      Program p = lower_to_kernels(m.graph, e);
      MemoryStats stats = plan_memory(p);
      check_program(p);
      expect_no_live_overlap(p, stats);
      if (e.name == "train_step") {
        EXPECT_LT(stats.arena_bytes, stats.unplanned_bytes) << print_program(p);
      }
      expect_matches_reference(m.graph, e, p, random_feeds(m.graph, 3, 6), 1e-8);
    }
  }
}

TEST(MemoryPlan, ParametersAndIoStayOutOfTheArena) {
  Model m = mlp_model("adam");
  Program p = build_program(m.graph, entry_specs(m).back());
  for (const auto& b : p.buffers) {
    if (b.kind == BufferKind::temp) continue;
    EXPECT_EQ(b.offset, -1) << b.name;
  }
  EXPECT_GE(p.find_buffer(BufferKind::state, "fc1.w.m"), 0);
  EXPECT_GE(p.find_buffer(BufferKind::input, "x"), 0);
  EXPECT_GE(p.find_buffer(BufferKind::output, "loss"), 0);
}

}  // namespace
}  // namespace dlc
