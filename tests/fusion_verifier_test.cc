// --verify-fusion: every kernel of a step is compared with the reference
// interpreter, and a kernel that computes something else is named with its
// ops and its worst element.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "compiler/pipeline.h"
#include "frontend/model_loader.h"
#include "ir/error.h"
#include "runtime/fusion_verifier.h"
#include "runtime/ref_executor.h"
#include "runtime/session.h"
#include "tests/ops_test_util.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

proto::Executable compile(const std::string& model, const std::string& target, int64_t batch) {
  CompileOptions o;
  o.target = target;
  o.batch = batch;
  o.seed = 3;
  return compile_model(load_model(std::string(DLC_SOURCE_DIR) + "/models/" + model), o);
}

/// Random values for every input `entry` of `s` takes (labels in range).
std::map<std::string, HostTensor> random_inputs(const Session& s, const std::string& entry, uint64_t seed) {
  std::map<std::string, HostTensor> in;
  for (const auto& info : s.entry(entry).inputs) {
    double lo = 0, hi = 1;
    if (info.role == proto::LABEL) hi = 9;
    if (info.role == proto::LEARNING_RATE) lo = hi = 1e-3;
    if (info.role == proto::STEP) lo = hi = 1;
    Tensor t = test::random_tensor(info.type.dims, seed++, lo, hi, info.type.dtype);
    if (info.role == proto::LABEL)
      for (double& v : t.data) v = std::floor(v);
    in[info.name] = to_host(t);
  }
  return in;
}

TEST(FusionVerifier, EveryKernelOfTheMlpMatchesTheReference) {
  Session s(compile("mlp_mnist.pbtxt", "cpu", 16), "mlp.dlc");
  s.verify_fusion(1e-4);
  std::map<std::string, HostTensor> out;
  s.run("train_step", random_inputs(s, "train_step", 1), &out);
  s.run("predict", random_inputs(s, "predict", 2), &out);
  ASSERT_EQ(s.fusion_reports().size(), 2u);
  EXPECT_NE(s.fusion_reports()[0].find("train_step: 14 steps"), std::string::npos) << s.fusion_reports()[0];
  EXPECT_NE(s.fusion_reports()[1].find("values match the reference"), std::string::npos) << s.fusion_reports()[1];
  EXPECT_EQ(out.count("probs"), 1u);
  // Only the first run of an entry point is verified.
  s.run("predict", random_inputs(s, "predict", 3), &out);
  EXPECT_EQ(s.fusion_reports().size(), 2u);
}

TEST(FusionVerifier, TheVerifiedRunIsARealRun) {
  // Weights after one verified step equal those after one plain step.
  proto::Executable exe = compile("mlp_mnist.pbtxt", "cpu", 8);
  Session verified(exe, "a.dlc"), plain(exe, "b.dlc");
  verified.verify_fusion(1e-4);
  auto in = random_inputs(plain, "train_step", 7);
  std::map<std::string, HostTensor> out_v, out_p;
  verified.run("train_step", in, &out_v);
  plain.run("train_step", in, &out_p);
  EXPECT_EQ(verified.get_param("W1").bytes, plain.get_param("W1").bytes);
  EXPECT_EQ(out_v.at("loss").bytes, out_p.at("loss").bytes);
}

TEST(FusionVerifier, AKernelThatComputesSomethingElseIsNamed) {
  // The kernels were generated for relu; the graph the reference reads now
  // says sigmoid for the first hidden layer. The kernel holding that node
  // must be reported, with the value and an element.
  proto::Executable exe = compile("mlp_mnist.pbtxt", "cpu", 4);
  std::string changed;
  for (auto& n : *exe.mutable_graph()->mutable_nodes())
    if (n.op() == "relu" && changed.empty()) {
      n.set_op("sigmoid");
      changed = n.name().empty() ? n.outputs(0) : n.name();
    }
  ASSERT_FALSE(changed.empty());
  Session s(exe, "mlp.dlc");
  s.verify_fusion(1e-4);
  std::map<std::string, HostTensor> out;
  try {
    s.run("predict", random_inputs(s, "predict", 5), &out);
    FAIL() << "the changed kernel was not detected";
  } catch (const Error& e) {
    std::string text = e.what();
    EXPECT_TRUE(test::contains_all(text, {"mlp.dlc", "predict step", changed, "worst element [", "reference",
                                          "tolerance"}))
        << text;
  }
}

TEST(FusionVerifier, TheRefTargetAndBadTolerancesAreRefused) {
  Session ref(compile("softmax_regression.pbtxt", "ref", 4), "sr.dlc");
  try {
    ref.verify_fusion(1e-4);
    FAIL() << "ref target accepted";
  } catch (const ArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("sr.dlc is compiled for target 'ref'"), std::string::npos) << e.what();
  }
  Session cpu(compile("softmax_regression.pbtxt", "cpu", 4), "sr.dlc");
  EXPECT_THROW(cpu.verify_fusion(0), ArgumentError);
  EXPECT_THROW(cpu.verify_fusion(-1), ArgumentError);
  EXPECT_THROW(cpu.verify_fusion(NAN), ArgumentError);
}

TEST(FusionVerifier, ElementErrorIsRelativeAboveOneAndNeverPassesNaN) {
  EXPECT_DOUBLE_EQ(element_error(1.5, 1.0), 0.5);
  EXPECT_DOUBLE_EQ(element_error(110, 100), 0.1);
  EXPECT_DOUBLE_EQ(element_error(1e-3, 0), 1e-3);
  EXPECT_TRUE(std::isinf(element_error(NAN, 1)));
  EXPECT_TRUE(std::isinf(element_error(1, NAN)));
  EXPECT_EQ(element_error(NAN, NAN), 0);
  EXPECT_TRUE(std::isinf(element_error(INFINITY, 1e30)));
  EXPECT_EQ(element_error(-INFINITY, -INFINITY), 0);
}

}  // namespace
}  // namespace dlc
