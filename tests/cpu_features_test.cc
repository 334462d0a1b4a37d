// The instruction-set extensions a cpu executable records and the runtime
// checks: --cpu x86-64-v2 records exactly that level's extensions, --cpu
// native records only what this machine has, and an executable that needs
// an extension this machine lacks is refused at load with the file and the
// extension named, not run into an illegal instruction.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "compiler/pipeline.h"
#include "dlrt.h"
#include "frontend/model_loader.h"
#include "kernel/cpu_features.h"
#include "kernel/executable.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

proto::Executable compile_mlp(const std::string& cpu) {
  Model m = load_model(test::source_path("models/mlp_mnist.pbtxt"));
  CompileOptions opts;
  opts.target = "cpu";
  opts.batch = 4;
  opts.cpu = cpu;
  return compile_model(m, opts);
}

std::vector<std::string> features_of(const proto::Executable& exe) {
  return std::vector<std::string>(exe.cpu_features().begin(), exe.cpu_features().end());
}

TEST(CpuFeatures, UnknownNamesCountAsMissing) {
  const auto& all = checkable_cpu_features();
  EXPECT_NE(std::find(all.begin(), all.end(), "avx2"), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), "avx512f"), all.end());
  // Every x86-64 this project builds on has SSE4.2.
  EXPECT_EQ(missing_cpu_features({"sse4.2", "amx-tile", "sse4.1"}), std::vector<std::string>{"amx-tile"});
}

TEST(CpuFeatures, PortableCodeRecordsItsLevel) {
  proto::Executable exe = compile_mlp("x86-64-v2");
  EXPECT_EQ(exe.cpu(), "x86-64-v2");
  EXPECT_EQ(features_of(exe), (std::vector<std::string>{"sse3", "ssse3", "sse4.1", "sse4.2", "popcnt"}));
}

TEST(CpuFeatures, NativeCodeRecordsOnlyWhatThisMachineHas) {
  proto::Executable exe = compile_mlp("native");
  EXPECT_NE(exe.cpu(), "native");  // the host's CPU name
  EXPECT_FALSE(exe.cpu().empty());
  std::vector<std::string> features = features_of(exe);
  EXPECT_NE(std::find(features.begin(), features.end(), "sse4.2"), features.end());
  EXPECT_TRUE(missing_cpu_features(features).empty());
}

TEST(CpuFeatures, AnExecutableNeedingWhatThisMachineLacksIsRefused) {
  proto::Executable exe = compile_mlp("x86-64-v2");
  exe.add_cpu_features("amx-tile");  // as from a newer machine's compiler
  const std::string path = test::temp_dir() + "/needs_amx.dlc";
  save_executable_atomic(exe, path);
  dlrt_model* m = nullptr;
  EXPECT_EQ(dlrt_model_load(path.c_str(), &m), DLRT_RUNTIME_ERROR);
  EXPECT_EQ(m, nullptr);
  const std::string error = dlrt_last_error();
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("amx-tile"), std::string::npos) << error;
  EXPECT_NE(error.find("--cpu x86-64-v2"), std::string::npos) << error;
  EXPECT_EQ(error.find("sse4.2"), std::string::npos) << "only the missing ones are named: " << error;
}

}  // namespace
}  // namespace dlc
