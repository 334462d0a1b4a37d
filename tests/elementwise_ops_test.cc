#include <gtest/gtest.h>

#include "ir/builder.h"
#include "ir/error.h"
#include "ir/verifier.h"
#include "runtime/ref_interpreter.h"
#include "tests/test_util.h"

namespace dlc {

TEST(ElementwiseOps, SigmoidOfPerceptronExample) {
  // Course notes: g(1 + 3*x1 - 2*x2) at x = (-1, 2) is sigmoid(-6).
  Graph g;
  GraphBuilder b(g);
  auto z = b.input("z", {DType::f32, {1}});
  b.output(b.op("sigmoid", {z}));
  RefInterpreter interp(g);
  auto out = interp.run({{"z", Tensor({DType::f32, {1}}, {1 + 3 * -1.0 - 2 * 2.0})}}, g.outputs);
  EXPECT_NEAR(out.at(g.outputs[0])[0], 0.0024726, 1e-6);
}

TEST(ElementwiseOps, BroadcastShapeMismatchNamesBothShapes) {
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {2, 3}});
  auto y = b.input("y", {DType::f32, {4}});
  try {
    b.op("add", {x, y}, {}, "s");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("f32[2,3]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("f32[4]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'s'"), std::string::npos) << e.what();
  }
}

}  // namespace dlc
