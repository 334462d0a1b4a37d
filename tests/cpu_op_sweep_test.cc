// Every registered op and every gradient rule, compiled for the cpu, against
// the float64 reference interpreter: the sweep of tests/op_sweep.h (sizes 1,
// 7 and 1023, broadcasting shape pairs, value ranges valid for each op) run
// on the cpu executor. An op costs one LLVM compile per mode for its forward
// sweep and one for its gradients. The checks of the table itself live here
// too (OpSweepTable): the cpu sweep runs in every build.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "tests/cpu_test_util.h"
#include "tests/op_sweep.h"

namespace dlc {
namespace {

using namespace test::sweep;

void expect_cpu_sweep_matches(const std::string& op, Direction d) {
  for (const SweepGraph& sg : sweep_graphs(op, d)) {
    SCOPED_TRACE(sg.entry.training ? "training" : "inference");
    test::expect_cpu_matches_reference(sg.graph, sg.entry, sg.feeds, sg.tol);
  }
}

class CpuOpForward : public testing::TestWithParam<std::string> {};
class CpuOpGradient : public testing::TestWithParam<std::string> {};

TEST_P(CpuOpForward, MatchesTheReference) { expect_cpu_sweep_matches(GetParam(), Direction::forward); }
TEST_P(CpuOpGradient, MatchesTheReference) { expect_cpu_sweep_matches(GetParam(), Direction::gradient); }

INSTANTIATE_TEST_SUITE_P(EveryOp, CpuOpForward, testing::ValuesIn(registered_ops(Direction::forward)), param_name);
INSTANTIATE_TEST_SUITE_P(EveryGradient, CpuOpGradient, testing::ValuesIn(registered_ops(Direction::gradient)),
                         param_name);

TEST(OpSweepTable, TheErrorMeasureNeverPassesNaNOrAnUnmatchedInfinity) {
  auto error = [](double got, double want) {
    return test::relative_error(Tensor::scalar(got), Tensor::scalar(want)).error;
  };
  EXPECT_EQ(error(NAN, NAN), INFINITY);
  EXPECT_EQ(error(NAN, 1), INFINITY);
  EXPECT_EQ(error(1, NAN), INFINITY);
  EXPECT_EQ(error(1, INFINITY), INFINITY);
  EXPECT_EQ(error(INFINITY, 1e30), INFINITY);
  EXPECT_EQ(error(-INFINITY, INFINITY), INFINITY);
  EXPECT_EQ(error(INFINITY, INFINITY), 0);
  EXPECT_NEAR(error(0.5 + 2e-5, 0.5), 2e-5, 1e-12);  // absolute below 1
  EXPECT_NEAR(error(1000.02, 1000), 2e-5, 1e-12);    // relative above
  Tensor two({DType::f32, {2}}, {1, 2});
  EXPECT_EQ(test::relative_error(two, Tensor::scalar(1)).error, INFINITY);
}

TEST(OpSweepTable, EveryRowIsARegisteredOp) {
  for (const auto& [op, sweep] : sweep_table()) EXPECT_NE(find_op(op), nullptr) << "sweep row for unknown op " << op;
}

TEST(OpSweepTable, EveryOpMeetsSizes1And7And1023AndBinaryOpsBroadcast) {
  for (const auto& [op, sweep] : sweep_table()) {
    std::set<int64_t> sizes;
    bool broadcasts = false;
    for (const Case& c : sweep.cases) {
      auto types = operand_types(c);
      types.push_back(test::infer_type(op, types, c.attrs));
      for (const TensorType& t : types) sizes.insert(t.dims.begin(), t.dims.end());
      for (size_t j = 1; j < c.operands.size(); ++j) broadcasts |= c.operands[j].dims != c.operands[0].dims;
    }
    for (int64_t n : {1, 7, 1023}) EXPECT_TRUE(sizes.count(n)) << op << " never meets size " << n;
    const OpDef* def = find_op(op);
    if (def && def->lowering == Lowering::elementwise && def->max_inputs > 1) {
      EXPECT_TRUE(broadcasts) << op << " has no broadcasting case";
    }
  }
}

}  // namespace
}  // namespace dlc
