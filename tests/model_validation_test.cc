// Model validation (compiler/validate_model.h): `dlc check` and `dlc compile`
// refuse the same models with the same messages, every error at once.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "compiler/passes/optimizers.h"
#include "compiler/validate_model.h"
#include "frontend/model_loader.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

/// A valid training model; each case below breaks one part of it by
/// replacing the text between the markers @PARAMS@, @NODES@, @OPTIMIZER@,
/// @REGULARIZATION@ and @INPUTS@.
const char* kTemplate =
    "graph {\n"
    "  inputs { name: \"x\" type { dtype: F32 dims: [-1, 3] } role: DATA }\n"
    "  inputs { name: \"y\" type { dtype: F32 dims: [-1, 3] } role: LABEL }\n"
    "@INPUTS@"
    "  params { name: \"W\" type { dtype: F32 dims: [3] } init { @INIT_W@ } }\n"
    "  params { name: \"B\" type { dtype: F32 dims: [3] } init { zeros {} } }\n"
    "@PARAMS@"
    "  nodes { op: \"mul\" inputs: [\"x\", \"W\"] outputs: \"xw\" }\n"
    "  nodes { op: \"add\" inputs: [\"xw\", \"B\"] outputs: \"pred\" }\n"
    "  nodes { op: \"mse\" inputs: [\"pred\", \"y\"] outputs: \"loss\" }\n"
    "  outputs: \"pred\"\n"
    "}\n"
    "training {\n"
    "  loss: \"loss\"\n"
    "  optimizer { @OPTIMIZER@ }\n"
    "@REGULARIZATION@"
    "}\n";

struct Edit {
  std::string marker, text;
};

std::string model_text(const std::vector<Edit>& edits) {
  std::string s = kTemplate;
  std::vector<Edit> all = edits;
  for (const char* m : {"@INPUTS@", "@PARAMS@", "@REGULARIZATION@"}) all.push_back({m, ""});
  all.push_back({"@INIT_W@", "normal { std: 0.1 }"});
  all.push_back({"@OPTIMIZER@", "kind: \"sgd\" learning_rate: 0.1"});
  for (const auto& e : all) {
    size_t at = s.find(e.marker);
    if (at != std::string::npos) s.replace(at, e.marker.size(), e.text);
  }
  return s;
}

struct ToolRun {
  int status;
  std::string output;
};

ToolRun dlc(const std::string& args) {
  ToolRun r;
  r.status = test::run_command(test::tool_path("dlc") + " " + args + " 2>&1", &r.output);
  return r;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct BadModel {
  std::string name;
  std::vector<Edit> edits;
  std::vector<std::string> expected;  // each must be one of the messages
};

// One row per reproduced symptom: `dlc check` said ok where compile refused,
// or both accepted a model that trains into NaN.
const std::vector<BadModel> kBadModels = {
    {"adam_beta1_one", {{"@OPTIMIZER@", "kind: \"adam\" beta1: 1"}}, {"optimizer adam: beta1 must be in [0, 1), got 1"}},
    {"negative_momentum",
     {{"@OPTIMIZER@", "kind: \"momentum\" momentum: -0.5"}},
     {"optimizer momentum: momentum must be in [0, 1), got -0.5"}},
    {"nan_learning_rate",
     {{"@OPTIMIZER@", "kind: \"sgd\" learning_rate: nan"}},
     {"optimizer sgd: learning_rate must be a finite number >= 0, got nan"}},
    {"negative_learning_rate",
     {{"@OPTIMIZER@", "kind: \"sgd\" learning_rate: -1"}},
     {"optimizer sgd: learning_rate must be a finite number >= 0, got -1"}},
    {"infinite_learning_rate",
     {{"@OPTIMIZER@", "kind: \"adam\" learning_rate: inf"}},
     {"optimizer adam: learning_rate must be a finite number >= 0, got inf"}},
    {"nan_epsilon",
     {{"@OPTIMIZER@", "kind: \"rmsprop\" epsilon: nan"}},
     {"optimizer rmsprop: epsilon must be a finite number >= 0, got nan"}},
    {"unused_beta1_on_sgd",
     {{"@OPTIMIZER@", "kind: \"sgd\" beta1: 0.9"}},
     {"optimizer sgd: beta1 0.9 is set, but sgd does not use it (it uses learning_rate, weight_decay)"}},
    {"negative_normal_std",
     {{"@INIT_W@", "normal { std: -1 }"}},
     {":4: parameter 'W': normal initializer's std must be a finite f32 number >= 0, got -1"}},
    {"nan_normal_std",
     {{"@INIT_W@", "normal { std: nan }"}},
     {":4: parameter 'W': normal initializer's std must be a finite f32 number >= 0, got nan"}},
    {"uniform_lo_above_hi",
     {{"@INIT_W@", "uniform { lo: 1 hi: -1 }"}},
     {":4: parameter 'W': uniform initializer has lo 1 > hi -1"}},
    {"infinite_constant",
     {{"@INIT_W@", "constant { value: inf }"}},
     {":4: parameter 'W': constant initializer's value must be a finite f32 number, got inf"}},
    {"constant_beyond_f32",
     {{"@INIT_W@", "constant { value: 1e300 }"}},
     {":4: parameter 'W': constant initializer's value must be a finite f32 number, got 1e+300"}},
    {"nan_in_data",
     {{"@INIT_W@", "data { values: [1, nan, 2] }"}},
     {":4: parameter 'W': data initializer's value 1 must be a finite f32 number, got nan"}},
    {"input_named_learning_rate",
     {{"@INPUTS@", "  inputs { name: \"learning_rate\" type { dtype: F32 dims: [-1, 3] } role: DATA }\n"}},
     {":4: input 'learning_rate' is f32[batch,3] of role DATA, but the name is reserved for the optimizer's f32[] "
      "input of role LEARNING_RATE"}},
    {"parameter_named_step",
     {{"@PARAMS@", "  params { name: \"step\" type { dtype: F32 dims: [3] } init { zeros {} } }\n"}},
     {":6: parameter 'step' clashes with the optimizer's input 'step'; rename it"}},
    {"parameter_clashing_with_adam_state",
     {{"@OPTIMIZER@", "kind: \"adam\""},
      {"@PARAMS@", "  params { name: \"W.m\" type { dtype: F32 dims: [3] } init { zeros {} } frozen: true }\n"}},
     {":6: parameter 'W.m' clashes with the state 'W.m' that optimizer adam keeps for parameter 'W'; rename it"}},
    {"negative_l2",
     {{"@REGULARIZATION@", "  regularization { l2: -0.5 }\n"}},
     {"training: regularization 1: l2 must be a finite number >= 0, got -0.5"}},
    {"two_non_differentiable_branches",
     {{"@PARAMS@", "  params { name: \"C\" type { dtype: F32 dims: [3] } init { zeros {} } }\n"
                   "  nodes { op: \"sign\" inputs: \"W\" outputs: \"t\" }\n"
                   "  nodes { op: \"sign\" inputs: \"C\" outputs: \"u\" }\n"
                   "  nodes { op: \"add\" inputs: [\"t\", \"u\"] outputs: \"tu\" }\n"
                   "  nodes { op: \"mul\" inputs: [\"xw\", \"tu\"] outputs: \"xwtu\" }\n"
                   "  nodes { op: \"mse\" inputs: [\"xwtu\", \"y\"] outputs: \"loss2\" }\n"},
      {"loss: \"loss\"", "loss: \"loss2\""}},
     {":7: node 't' (sign) is not differentiable; the loss depends on parameter 'W' through it",
      ":8: node 'u' (sign) is not differentiable; the loss depends on parameter 'C' through it"}},
    {"several_errors_at_once",
     {{"@OPTIMIZER@", "kind: \"adam\" beta1: 1 momentum: 0.5 learning_rate: -1"},
      {"@INIT_W@", "normal { std: nan }"},
      {"@REGULARIZATION@", "  regularization { l1: nan }\n"}},
     {"parameter 'W': normal initializer's std", "optimizer adam: learning_rate must be", "beta1 must be in [0, 1)",
      "momentum 0.5 is set, but adam does not use it", "regularization 1: l1 must be a finite number >= 0, got nan"}},
};

TEST(ModelValidation, TheTemplateModelIsValid) {
  std::string path = test::temp_dir() + "/good.pbtxt";
  std::ofstream(path) << model_text({});
  ToolRun r = dlc("check " + path);
  EXPECT_EQ(r.status, 0) << r.output;
  r = dlc("compile " + path + " --target ref -o " + test::temp_dir() + "/good.dlc");
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST(ModelValidation, CheckAndCompileRefuseEveryBadModelWithTheSameMessages) {
  for (const auto& bad : kBadModels) {
    SCOPED_TRACE(bad.name);
    std::string text = model_text(bad.edits);
    std::string path = test::temp_dir() + "/" + bad.name + ".pbtxt";
    std::ofstream(path) << text;
    ToolRun check = dlc("check " + path);
    ToolRun compile = dlc("compile " + path + " --target ref -o " + test::temp_dir() + "/" + bad.name + ".dlc");
    EXPECT_EQ(check.status, 1) << text << check.output;
    EXPECT_EQ(compile.status, 1) << text << compile.output;
    std::vector<std::string> check_lines = lines(check.output);
    std::vector<std::string> compile_lines = lines(compile.output);
    // compile adds the stage that refused the model.
    ASSERT_FALSE(compile_lines.empty());
    EXPECT_EQ(compile_lines.back(), "(in stage 'verify')") << compile.output;
    compile_lines.pop_back();
    EXPECT_EQ(check_lines, compile_lines) << "check:\n" << check.output << "compile:\n" << compile.output;
    for (const auto& want : bad.expected) {
      bool found = false;
      for (const auto& line : check_lines) found = found || (contains(line, want) && line.rfind(path, 0) == 0);
      EXPECT_TRUE(found) << "no message with '" << want << "' naming " << path << " in:\n" << check.output;
    }
    EXPECT_EQ(check_lines.size(), bad.expected.size()) << check.output;
  }
}

TEST(ModelValidation, NoTrainStillValidatesTheTrainingSection) {
  // check knows no --no-train; compile must not accept what check refuses.
  std::string path = test::temp_dir() + "/lr.pbtxt";
  std::ofstream(path) << model_text({{"@OPTIMIZER@", "kind: \"sgd\" learning_rate: nan"}});
  ToolRun r = dlc("compile " + path + " --target ref --no-train -o " + test::temp_dir() + "/lr.dlc");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "learning_rate must be a finite number >= 0, got nan")) << r.output;
}

TEST(ModelValidation, ValidateModelListsErrorsInMemoryToo) {
  Model m = parse_model_text(model_text({{"@OPTIMIZER@", "kind: \"adamw\" rho: 0.5 beta2: 1.5"}}), "m.pbtxt");
  std::vector<std::string> errors = validate_model(m);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "m.pbtxt: training: optimizer adamw: beta2 must be in [0, 1), got 1.5");
  EXPECT_EQ(errors[1],
            "m.pbtxt: training: optimizer adamw: rho 0.5 is set, but adamw does not use it (it uses learning_rate, "
            "beta1, beta2, epsilon, weight_decay)");
}

TEST(ModelValidation, TheVerifierKnowsExactlyTheKindsOfTheTable) {
  // ir/ cannot read the compiler's table, so it keeps its own list of names.
  std::vector<std::string> kinds;
  for (const auto& spec : optimizer_specs()) kinds.push_back(spec.kind);
  EXPECT_EQ(kinds, known_optimizers());
}

TEST(ModelValidation, TheDocumentationStatesEveryOptimizersDefaults) {
  // docs/optimizers.md is what users read; it must say what optimizers.cc computes.
  std::ifstream in(test::source_path("docs/optimizers.md"));
  ASSERT_TRUE(in) << "docs/optimizers.md is missing";
  std::stringstream buf;
  buf << in.rdbuf();
  std::string doc = buf.str();
  for (const auto& spec : optimizer_specs()) {
    size_t row = doc.find("| `" + spec.kind + "` |");
    ASSERT_NE(row, std::string::npos) << "no table row for " << spec.kind;
    std::string line = doc.substr(row, doc.find('\n', row) - row);
    for (const auto& h : spec.hyper)
      EXPECT_TRUE(contains(line, h.name + "=" + format_number(h.default_value)))
          << spec.kind << "'s row does not give " << h.name << "=" << format_number(h.default_value) << ":\n"
          << line;
    EXPECT_TRUE(contains(doc, spec.rule)) << "the update rule of " << spec.kind << " is not in the document";
  }
}

}  // namespace
}  // namespace dlc
