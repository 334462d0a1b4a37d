// The `dlc` tool's dispatcher, `check` and `print`, run as a user runs them.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/test_util.h"

namespace dlc {
namespace {

struct ToolRun {
  int status;
  std::string output;  // stdout and stderr together
};

ToolRun dlc(const std::string& args) {
  ToolRun r;
  r.status = test::run_command(test::tool_path("dlc") + " " + args, &r.output);
  return r;
}

std::string model(const std::string& name) { return test::source_path("models/" + name + ".pbtxt"); }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = test::temp_dir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(DlcTool, EveryExampleModelPassesCheck) {
  for (const char* name : {"linear_regression", "perceptron", "logistic_regression", "softmax_regression", "mlp_mnist"}) {
    ToolRun r = dlc("check " + model(name));
    EXPECT_EQ(r.status, 0) << name << ":\n" << r.output;
    EXPECT_EQ(r.output.rfind("ok\n", 0), 0u) << name << ":\n" << r.output;
    // One data input, one label input, so `dlrun predict --input` needs no name.
    EXPECT_TRUE(contains(r.output, "inputs: 2\n")) << r.output;
    EXPECT_TRUE(contains(r.output, " data\n")) << r.output;
    EXPECT_TRUE(contains(r.output, " label\n")) << r.output;
    EXPECT_TRUE(contains(r.output, "training: minimize 'loss' with ")) << r.output;
  }
}

TEST(DlcTool, CheckSummarizesTheMlp) {
  ToolRun r = dlc("check " + model("mlp_mnist"));
  ASSERT_EQ(r.status, 0) << r.output;
  // 784*256 + 256 + 256*256 + 256 + 256*10 + 10
  EXPECT_TRUE(contains(r.output, "parameters: 6, 269322 elements\n")) << r.output;
  EXPECT_TRUE(contains(r.output, "W1 f32[784,256] 200704 he\n")) << r.output;
  EXPECT_TRUE(contains(r.output, "probs f32[batch,10]\n")) << r.output;
  EXPECT_TRUE(contains(r.output, "with adam {learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08}")) << r.output;
}

TEST(DlcTool, CheckSaysWhatTheOptimizerComputes) {
  // The values compile will use, defaults filled in and marked, and the rule.
  ToolRun r = dlc("check " + model("mlp_mnist"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "  hyper-parameters: learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08, "
                                 "weight_decay=0 (default)"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "  update of each trainable parameter w: m = beta1*m + (1-beta1)*g;")) << r.output;
  EXPECT_TRUE(contains(r.output, "torch.optim.Adam(")) << r.output;
  std::string path = write_temp("reg.pbtxt", [&] {
    std::ifstream in(model("softmax_regression"));
    std::stringstream buf;
    buf << in.rdbuf();
    std::string text = buf.str();
    text.replace(text.find("optimizer {"), 0, "regularization { l2: 0.25 }\n  ");
    return text;
  }());
  r = dlc("check " + path);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "  hyper-parameters: learning_rate=0.1, weight_decay=0 (default)")) << r.output;
  // The L2 convention: no 1/2.
  EXPECT_TRUE(contains(r.output, "regularize l2=0.25 on every trainable parameter: the loss gets + 0.25*sum(w^2)"))
      << r.output;
}

TEST(DlcTool, CheckListsEveryErrorAndExitsOne) {
  std::string path = write_temp("bad.pbtxt",
                                "graph {\n"
                                "  inputs { name: \"x\" type { dtype: F32 dims: [-1, 3] } }\n"
                                "  nodes { op: \"frobnicate\" inputs: \"x\" outputs: \"a\" }\n"
                                "  nodes { op: \"add\" inputs: \"x\" outputs: \"b\" }\n"
                                "  outputs: \"b\"\n"
                                "}\n");
  ToolRun r = dlc("check " + path);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, path + ":3: node 'a' (frobnicate): unknown op 'frobnicate'\n")) << r.output;
  EXPECT_TRUE(contains(r.output, path + ":4: node 'b' (add): takes 2 input(s), got 1\n")) << r.output;
  EXPECT_FALSE(contains(r.output, "ok")) << r.output;
}

TEST(DlcTool, CheckReportsParseErrorsWithLineAndColumn) {
  std::string path = write_temp("typo.pbtxt", "graph {\n  outputz: \"y\"\n}\n");
  ToolRun r = dlc("check " + path);
  EXPECT_EQ(r.status, 1) << r.output;
  // Protobuf points just past the unknown name.
  EXPECT_TRUE(contains(r.output, path + ":2:10: ")) << r.output;
  EXPECT_TRUE(contains(r.output, "outputz")) << r.output;
}

TEST(DlcTool, CheckOfAMissingFileExitsOne) {
  ToolRun r = dlc("check /nonexistent/model.pbtxt");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "/nonexistent/model.pbtxt: cannot open")) << r.output;
}

TEST(DlcTool, PrintShowsOneNodeALineWithTypes) {
  ToolRun r = dlc("print " + model("mlp_mnist"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "\n%h1 = relu(%z1) : f32[batch,256]\n")) << r.output;
  EXPECT_TRUE(contains(r.output, "\n%probs = softmax(%logits) {axis=-1} : f32[batch,10]\n")) << r.output;
  EXPECT_TRUE(contains(r.output, "\ntraining loss=%loss optimizer=adam")) << r.output;
}

TEST(DlcTool, PrintAfterVerifyKeepsTheBatchSymbolic) {
  ToolRun r = dlc("print " + model("softmax_regression") + " --after verify");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "%logits = add(%xW, %b) : f32[batch,10]\n")) << r.output;
}

TEST(DlcTool, PrintWithBatchBindsIt) {
  ToolRun r = dlc("print " + model("softmax_regression") + " --batch 32");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "input %x : f32[32,784]\n")) << r.output;
  EXPECT_TRUE(contains(r.output, "%logits = add(%xW, %b) : f32[32,10]\n")) << r.output;
}

TEST(DlcTool, PrintAfterAutodiffShowsGradients) {
  ToolRun r = dlc("print " + model("softmax_regression") + " --after autodiff --batch 4");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "\ngradient %W = %")) << r.output;
  EXPECT_TRUE(contains(r.output, "\ngradient %b = %")) << r.output;
}

TEST(DlcTool, HelpForTheToolAndEachCommand) {
  ToolRun top = dlc("--help");
  EXPECT_EQ(top.status, 0);
  for (const char* cmd : {"check", "print", "compile", "gradcheck", "ops"}) {
    EXPECT_TRUE(contains(top.output, std::string("  ") + cmd + " ")) << top.output;
    ToolRun help = dlc(std::string(cmd) + " --help");
    EXPECT_EQ(help.status, 0) << cmd << ":\n" << help.output;
    EXPECT_TRUE(contains(help.output, std::string("usage: dlc ") + cmd)) << help.output;
    EXPECT_EQ(dlc(std::string("help ") + cmd).output, help.output) << cmd;
  }
}

TEST(DlcTool, UsageErrorsExitTwo) {
  EXPECT_EQ(dlc("").status, 2);
  ToolRun unknown = dlc("frobnicate");
  EXPECT_EQ(unknown.status, 2);
  EXPECT_TRUE(contains(unknown.output, "unknown command 'frobnicate'")) << unknown.output;
  EXPECT_EQ(dlc("check").status, 2);
  EXPECT_EQ(dlc("check --bogus " + model("perceptron")).status, 2);
  EXPECT_EQ(dlc("print " + model("perceptron") + " --batch zero").status, 2);
  EXPECT_EQ(dlc("print " + model("perceptron") + " --after").status, 2);
}

TEST(DlcTool, OpsListsTheRegistry) {
  ToolRun r = dlc("ops");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "matmul ")) << r.output;
  EXPECT_TRUE(contains(r.output, "transpose_a:bool?")) << r.output;
  EXPECT_TRUE(contains(r.output, "softmax_cross_entropy ")) << r.output;
}

}  // namespace
}  // namespace dlc
