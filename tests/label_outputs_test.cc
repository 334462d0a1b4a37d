// Graph outputs that need a LABEL input (the loss as an output): train_step
// computes them, predict leaves them out and says why when asked, a model
// that could compute them nowhere is refused, and `dlc check` and
// `dlc compile` agree on every model about which of them are valid.
#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "compiler/pipeline.h"
#include "dlrt.hpp"
#include "frontend/model_loader.h"
#include "ir/label_dependence.h"
#include "ir/verifier.h"
#include "kernel/executable.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

constexpr int kBatch = 4;
const char* kWithLoss = "  outputs: \"y_hat\"\n  outputs: \"loss\"\n";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// models/linear_regression.pbtxt with its `outputs:` line replaced by
/// `outputs` and, when `training` is false, no training section.
std::string linear_regression_variant(const std::string& outputs, bool training) {
  std::string text = slurp(test::source_path("models/linear_regression.pbtxt"));
  size_t at = text.find("  outputs: \"y_hat\"\n");
  EXPECT_NE(at, std::string::npos) << "models/linear_regression.pbtxt changed; update this test";
  text.replace(at, std::string("  outputs: \"y_hat\"\n").size(), outputs);
  if (!training) text = text.substr(0, text.find("training {"));
  return text;
}

std::string write_model(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name + ".pbtxt";
  std::ofstream(path) << text;
  return path;
}

std::vector<std::string> names(const std::vector<dlrt::TensorInfo>& infos) {
  std::vector<std::string> out;
  for (const auto& i : infos) out.push_back(i.name);
  return out;
}

TEST(LabelDependence, FindsTheLabelsAValueNeeds) {
  Model m = load_model(write_model(test::temp_dir(), "loss_out",
                                   linear_regression_variant(kWithLoss, true)));
  ASSERT_TRUE(verify_model(m).empty());
  EXPECT_EQ(label_inputs_needed(m.graph, "loss"), std::vector<std::string>{"y"});
  EXPECT_TRUE(label_inputs_needed(m.graph, "y_hat").empty());
  EXPECT_EQ(inputs_needed(m.graph, {"loss"}), (std::set<std::string>{"x", "y"}));
  EXPECT_EQ(inputs_needed(m.graph, {"y"}), std::set<std::string>{"y"});  // an input needs itself
}

class LabelOutputs : public ::testing::TestWithParam<std::string> {};

// The loss as a graph output, compiled for the target: train_step returns it
// (the mean squared error of the y_hat it returns with it), predict has only
// y_hat and, asked for the loss, names the label it would need.
TEST_P(LabelOutputs, TrainStepReturnsTheLossAndPredictSaysWhyNot) {
  const std::string dir = test::temp_dir();
  Model m = load_model(
      write_model(dir, "loss_out", linear_regression_variant(kWithLoss, true)));
  CompileOptions opts;
  opts.target = GetParam();
  opts.batch = kBatch;
  save_executable_atomic(compile_model(m, opts), dir + "/m.dlc");
  dlrt::Model model(dir + "/m.dlc");

  EXPECT_EQ(names(model.entry_outputs("predict")), std::vector<std::string>{"y_hat"});
  EXPECT_EQ(names(model.entry_inputs("predict")), std::vector<std::string>{"x"});
  EXPECT_EQ(names(model.entry_outputs("train_step")), (std::vector<std::string>{"loss", "y_hat"}));

  // Nonzero weights, so y_hat is not 0 and the loss is not just mean(y^2).
  std::vector<float> w = {0.5f, -1.0f, 2.0f}, b = {0.25f};
  model.set_param("w", DLRT_F32, w.data(), 3);
  model.set_param("b", DLRT_F32, b.data(), 1);
  std::vector<float> x = {1, 2, 3, -1, 0.5f, 2, 0, 0, 1, 4, -3, 0.25f}, y = {1.5f, -2, 3, 0.75f};
  float lr = 0.01f, step = 1, loss = NAN, y_hat[kBatch] = {};
  std::vector<dlrt_input> in = {{"x", DLRT_F32, x.data(), kBatch * 3},
                                {"y", DLRT_F32, y.data(), kBatch},
                                {"learning_rate", DLRT_F32, &lr, 1},
                                {"step", DLRT_F32, &step, 1}};
  std::vector<dlrt_output> out = {{"loss", DLRT_F32, &loss, 1}, {"y_hat", DLRT_F32, y_hat, kBatch}};
  model.run("train_step", in, out);
  double want = 0;
  for (int r = 0; r < kBatch; ++r) {
    double p = b[0];
    for (int k = 0; k < 3; ++k) p += double(x[r * 3 + k]) * w[k];
    EXPECT_NEAR(y_hat[r], p, 1e-5) << "row " << r;
    want += (p - y[r]) * (p - y[r]) / kBatch;
  }
  EXPECT_NEAR(loss, want, 1e-5 * want);

  std::vector<dlrt_input> data = {{"x", DLRT_F32, x.data(), kBatch * 3}};
  std::vector<dlrt_output> ask_loss = {{"loss", DLRT_F32, &loss, 1}};
  try {
    model.run("predict", data, ask_loss);
    FAIL() << "predict returned the loss without labels";
  } catch (const dlrt::Error& e) {
    EXPECT_EQ(e.status(), DLRT_INVALID_ARGUMENT);
    std::string text = e.what();
    EXPECT_NE(text.find("entry point 'predict' has no output 'loss': it needs the LABEL input 'y', which 'predict' "
                        "does not take; 'train_step' computes it"),
              std::string::npos)
        << text;
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, LabelOutputs, ::testing::Values("cpu", "ref"));

// `dlrun predict --output loss=FILE` says why, before running anything.
TEST(LabelOutputsTool, DlrunPredictSaysTheLossNeedsLabels) {
  const std::string dir = test::temp_dir();
  std::string model = write_model(dir, "loss_out", linear_regression_variant(kWithLoss, true));
  std::string out;
  ASSERT_EQ(test::run_command(test::tool_path("dlc") + " compile " + model + " --target cpu --batch 4 -o " + dir +
                                  "/m.dlc",
                              &out),
            0)
      << out;
  int rc = test::run_command(test::tool_path("dlrun") + " predict " + dir + "/m.dlc --input " + dir +
                                 "/missing.npy --output loss=" + dir + "/loss.npy",
                             &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("predict has no output 'loss': it needs the model's LABEL input ('y'), which predict does not "
                     "take; train_step computes it (its outputs: y_hat)"),
            std::string::npos)
      << out;
}

/// Runs `dlc ARGS`; returns the exit status and the output in `out`.
int dlc_tool(const std::string& args, std::string* out) {
  return test::run_command(test::tool_path("dlc") + " " + args, out);
}

// The rule is the same in both commands: for every model in models/ and the
// label-output variants, `dlc check` accepts exactly what `dlc compile`
// compiles (for cpu and ref); a model whose label-dependent output no entry
// point could compute is refused by both with the same reason.
TEST(LabelOutputsTool, CheckAndCompileAgree) {
  const std::string dir = test::temp_dir();
  std::vector<std::string> models;
  DIR* d = opendir(test::source_path("models").c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 6 && name.substr(name.size() - 6) == ".pbtxt")
      models.push_back(test::source_path("models/" + name));
  }
  closedir(d);
  std::sort(models.begin(), models.end());
  ASSERT_GE(models.size(), 5u);
  std::string with_loss = write_model(dir, "with_loss", linear_regression_variant(kWithLoss, true));
  std::string only_loss = write_model(dir, "only_loss", linear_regression_variant("  outputs: \"loss\"\n", true));
  std::string untrained = write_model(dir, "untrained", linear_regression_variant(kWithLoss, false));
  models.insert(models.end(), {with_loss, only_loss, untrained});

  int accepted = 0, refused = 0;
  for (const auto& model : models) {
    std::string check_out, compile_out;
    int check_rc = dlc_tool("check " + model, &check_out);
    for (const char* target : {"cpu", "ref"}) {
      int compile_rc =
          dlc_tool("compile " + model + " --target " + target + " --batch 8 -o " + dir + "/m.dlc", &compile_out);
      EXPECT_EQ(check_rc == 0, compile_rc == 0) << model << " (" << target << ")\ncheck: " << check_out
                                                << "\ncompile: " << compile_out;
      EXPECT_EQ(compile_out.find("internal"), std::string::npos) << model << ": " << compile_out;
    }
    (check_rc == 0 ? accepted : refused)++;
    if (model == with_loss) {
      EXPECT_NE(check_out.find("loss  f32[]      train_step only: needs the LABEL input 'y'"), std::string::npos)
          << check_out;
    }
    if (model == untrained) {
      const std::string reason = "graph output 'loss' needs the LABEL input 'y': only train_step computes such "
                                 "outputs, and the model has no training section";
      EXPECT_NE(check_out.find(reason), std::string::npos) << check_out;
      EXPECT_NE(compile_out.find(reason), std::string::npos) << compile_out;
    }
  }
  EXPECT_EQ(refused, 1) << "only the untrained variant is invalid";
  EXPECT_EQ(accepted, static_cast<int>(models.size()) - 1);
}

}  // namespace
}  // namespace dlc
