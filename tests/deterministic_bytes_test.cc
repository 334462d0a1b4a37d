// The same model gives the same file bytes: compiling twice (in one process
// or two) writes the same .dlc, and saving a model as .pb is as stable.
// Protobuf writes map fields (Node.attrs) in an order seeded per map, so
// only deterministic serialization makes this hold.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "compiler/pipeline.h"
#include "frontend/model_loader.h"
#include "ir/proto_bytes.h"
#include "kernel/executable.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// mlp_dropout has nodes with attributes (dropout's rate, softmax's axis),
// so its graph holds non-empty maps.
const char* kModel = "models/mlp_dropout.pbtxt";

// Copies of a message get maps of their own, each with its own hash seed:
// serializing several copies reorders the attributes unless deterministic.
TEST(DeterministicBytes, CopiesOfOneExecutableSerializeAlike) {
  CompileOptions opts;
  opts.target = "ref";
  opts.batch = 4;
  proto::Executable exe = compile_model(load_model(test::source_path(kModel)), opts);
  const std::string first = serialize_executable(exe, "m.dlc");
  for (int copy = 0; copy < 20; ++copy) {
    proto::Executable again = exe;
    ASSERT_TRUE(serialize_executable(again, "m.dlc") == first) << "copy " << copy << " serialized differently";
  }
}

TEST(DeterministicBytes, CompilingTwiceInTwoProcessesWritesTheSameDlc) {
  const std::string dir = test::temp_dir();
  for (const char* target : {"cpu", "ref"}) {
    std::string files[2];
    for (int i = 0; i < 2; ++i) {
      files[i] = dir + "/" + target + std::to_string(i) + ".dlc";
      std::string out;
      int rc = test::run_command(test::tool_path("dlc") + " compile " + test::source_path(kModel) + " --target " +
                                     target + " --batch 8 -o " + files[i],
                                 &out);
      ASSERT_EQ(rc, 0) << out;
    }
    std::string a = slurp(files[0]);
    ASSERT_GT(a.size(), 1000u);
    EXPECT_TRUE(a == slurp(files[1])) << target << ": two compiles of " << kModel << " wrote different bytes";
  }
}

// After the graph passes, constants carry two attributes (dtype, value) and
// reductions two more (axes, keepdims): enough for the order to show.
TEST(DeterministicBytes, SavingAModelAsBinaryProtoIsStable) {
  const std::string dir = test::temp_dir();
  Model m = load_model(test::source_path(kModel));
  CompileOptions opts;
  opts.batch = 4;
  run_graph_passes(m, opts);
  save_model(m, dir + "/a.pb");
  const std::string first = slurp(dir + "/a.pb");
  ASSERT_FALSE(first.empty());
  for (int i = 0; i < 20; ++i) {
    save_model(load_model(dir + "/a.pb"), dir + "/b.pb");
    ASSERT_TRUE(slurp(dir + "/b.pb") == first) << "save " << i << " wrote different bytes";
  }
}

TEST(DeterministicBytes, SerializeDeterministicRoundTrips) {
  Model m = load_model(test::source_path(kModel));
  std::string bytes;
  ASSERT_TRUE(serialize_deterministic(model_to_proto(m), &bytes));
  proto::Model back;
  ASSERT_TRUE(back.ParseFromString(bytes));
  std::string again;
  ASSERT_TRUE(serialize_deterministic(back, &again));
  EXPECT_EQ(again, bytes);
}

}  // namespace
}  // namespace dlc
