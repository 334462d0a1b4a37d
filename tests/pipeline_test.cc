// The pipeline (compiler/pipeline.h, compiler/stage.h): every stage by name,
// dumps after any of them, the IR checked after a change, and a stage that
// misreports "unchanged" caught by name.
#include <gtest/gtest.h>

#include "compiler/pipeline.h"
#include "compiler/stage.h"
#include "frontend/model_loader.h"
#include "ir/error.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

Model logistic() { return load_model(test::source_path("models/logistic_regression.pbtxt")); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

/// Changes the graph (adds an attribute) but says it did not.
class LyingPass : public Pass {
 public:
  std::string name() const override { return "liar"; }
  bool run(Model& m) override {
    m.graph.nodes.back().attrs["note"] = attr_i(1);
    return false;
  }
};

/// Leaves a node reading a value that does not exist, and says so.
class BreakingPass : public Pass {
 public:
  std::string name() const override { return "breaker"; }
  bool run(Model& m) override {
    m.graph.nodes.back().inputs[0] = "no_such_value";
    return true;
  }
};

TEST(Pipeline, AStageThatChangesTheIrButSaysUnchangedIsCaughtByName) {
  Model m = logistic();
  CompileOptions opts;
  opts.verify_changes = true;
  Compilation c(m, opts);
  auto liar = graph_stage(std::make_unique<LyingPass>());
  std::string e = error_of([&] { run_stage(*liar, c); });
  EXPECT_NE(e.find("stage 'liar' reported no change but changed the IR"), std::string::npos) << e;

  Model m2 = logistic();
  CompileOptions lax;
  lax.verify_changes = false;
  Compilation c2(m2, lax);
  EXPECT_EQ(error_of([&] { run_stage(*liar, c2); }), "") << "the check costs a hash per stage, so it is optional";
}

TEST(Pipeline, TheIrIsCheckedAfterAStageThatChangedIt) {
  Model m = logistic();
  CompileOptions opts;
  Compilation c(m, opts);
  auto breaker = graph_stage(std::make_unique<BreakingPass>());
  std::string e = error_of([&] { run_stage(*breaker, c); });
  EXPECT_NE(e.find("internal error: stage 'breaker' left invalid IR"), std::string::npos) << e;
  EXPECT_NE(e.find("no_such_value"), std::string::npos) << e;
}

TEST(Pipeline, DumpsAfterEveryStageInOrder) {
  for (const char* target : {"cpu", "ref"}) {
    SCOPED_TRACE(target);
    CompileOptions opts;
    opts.target = target;
    opts.batch = 4;
    opts.verify_changes = true;
    opts.dump_after = "all";
    opts.data_parallel = true;  // so every stage runs
    std::vector<std::string> dumped;
    std::map<std::string, std::string> text;
    opts.on_dump = [&](const std::string& stage, const std::string& t) {
      dumped.push_back(stage);
      text[stage] = t;
    };
    compile_model(logistic(), opts);
    std::vector<std::string> want = stage_names();
    if (std::string(target) == "ref") want.resize(want.size() - 4);  // no fuse, lower, plan_memory, codegen
    EXPECT_EQ(dumped, want);
    EXPECT_NE(text["autodiff"].find("%w.grad = matmul("), std::string::npos) << text["autodiff"];
    if (std::string(target) == "cpu") {
      EXPECT_NE(text["fuse"].find("fusion train_step:"), std::string::npos) << text["fuse"];
      EXPECT_NE(text["lower"].find("program predict:"), std::string::npos) << text["lower"];
      EXPECT_NE(text["plan_memory"].find("arena "), std::string::npos) << text["plan_memory"];
      EXPECT_NE(text["codegen"].find("define void @dlc_train_step_0("), std::string::npos);
    }
  }
}

TEST(Pipeline, DumpAfterNamesAStageThatRuns) {
  CompileOptions opts;
  opts.target = "cpu";
  opts.dump_after = "fusion";
  std::string e = error_of([&] { compile_model(logistic(), opts); });
  EXPECT_NE(e.find("unknown stage 'fusion'"), std::string::npos) << e;
  EXPECT_NE(e.find("fuse, lower, plan_memory, codegen"), std::string::npos) << e;
  opts.target = "ref";
  opts.dump_after = "lower";
  e = error_of([&] { compile_model(logistic(), opts); });
  EXPECT_NE(e.find("stage 'lower' does not run for target ref"), std::string::npos) << e;
  opts.training = false;
  opts.dump_after = "autodiff";
  e = error_of([&] { compile_model(logistic(), opts); });
  EXPECT_NE(e.find("stage 'autodiff' does not run"), std::string::npos) << e;
}

TEST(Pipeline, NamedPassesCheckTheirPrerequisites) {
  Model m = logistic();
  CompileOptions opts;
  std::string e = error_of([&] { run_named_passes(m, {"lower_optimizer"}, opts); });
  EXPECT_NE(e.find("needs 'autodiff' to run before it"), std::string::npos) << e;
  e = error_of([&] { run_named_passes(m, {"cse", "plan_memory"}, opts); });
  EXPECT_NE(e.find("'plan_memory' is not a graph pass"), std::string::npos) << e;
  // Nothing ran: the failed lists left the model as it was.
  EXPECT_TRUE(m.gradients.empty());
  run_named_passes(m, {"autodiff", "lower_optimizer"}, opts);
  EXPECT_EQ(m.gradients.size(), 2u);
  EXPECT_EQ(m.updates.size(), 2u);
  EXPECT_EQ(m.graph.types.at("x").dims, (std::vector<int64_t>{1, 2})) << "bind_batch ran implicitly";
}

}  // namespace
}  // namespace dlc
