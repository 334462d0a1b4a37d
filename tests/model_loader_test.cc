// Model loading: text and binary files, parse errors with file:line:column,
// source lines on nodes, and .pb / .pbtxt round trips.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include <google/protobuf/util/message_differencer.h>

#include "frontend/model_loader.h"
#include "ir/error.h"
#include "ir/verifier.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

const char* kSmallModel =
    "# a comment line\n"                                                      // 1
    "graph {\n"                                                               // 2
    "  inputs { name: \"x\" type { dtype: F32 dims: [-1, 2] } }\n"            // 3
    "  inputs { name: \"t\" type { dtype: I32 dims: [-1] } role: LABEL }\n"   // 4
    "  params { name: \"w\" type { dtype: F32 dims: [2, 1] }\n"               // 5
    "           init { data { values: [3, -2] } } }\n"                        // 6
    "  nodes { op: \"matmul\" inputs: [\"x\", \"w\"] outputs: \"z1\" }\n"     // 7
    "  nodes {\n"                                                             // 8
    "    op: \"reshape\" inputs: \"z1\" outputs: \"z\"\n"                     // 9
    "    attrs { key: \"dims\" value { ints { values: [-1] } } }\n"           // 10
    "  }\n"                                                                   // 11
    "  nodes { op: \"sigmoid\" inputs: \"z\" outputs: \"p\" }\n"              // 12
    "  nodes { op: \"sigmoid_binary_cross_entropy\" inputs: [\"z\", \"t\"] outputs: \"loss\" }\n"  // 13
    "  outputs: \"p\"\n"                                                      // 14
    "}\n"                                                                     // 15
    "training { loss: \"loss\" optimizer { kind: \"sgd\" learning_rate: 0.1 } }\n";

std::string write_file(const std::string& name, const std::string& bytes) {
  std::string path = test::temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected dlc::Error";
  return "";
}

bool same_proto(const Model& a, const Model& b) {
  return google::protobuf::util::MessageDifferencer::Equals(model_to_proto(a), model_to_proto(b));
}

TEST(ModelLoader, ParsesTextWithSourceLines) {
  Model m = parse_model_text(kSmallModel, "small.pbtxt");
  EXPECT_EQ(m.source, "small.pbtxt");
  ASSERT_EQ(m.graph.inputs.size(), 2u);
  EXPECT_EQ(m.graph.inputs[1].role, proto::LABEL);
  EXPECT_EQ(m.graph.inputs[0].line, 3);
  EXPECT_EQ(m.graph.inputs[1].line, 4);
  ASSERT_EQ(m.graph.params.size(), 1u);
  EXPECT_EQ(m.graph.params[0].line, 5);
  ASSERT_EQ(m.graph.nodes.size(), 4u);
  EXPECT_EQ(m.graph.nodes[0].line, 7);
  EXPECT_EQ(m.graph.nodes[1].line, 8);
  EXPECT_EQ(m.graph.nodes[3].line, 13);
  EXPECT_EQ(m.graph.nodes[1].attr_ints("dims"), std::vector<int64_t>{-1});
  EXPECT_EQ(m.training.loss(), "loss");
  EXPECT_DOUBLE_EQ(m.training.optimizer().learning_rate(), 0.1);
  EXPECT_TRUE(verify_model(m).empty());
}

TEST(ModelLoader, UnnamedNodesTakeTheirFirstOutputsName) {
  Model m = parse_model_text(kSmallModel, "small.pbtxt");
  EXPECT_EQ(m.graph.nodes[0].name, "z1");
}

TEST(ModelLoader, ParseErrorGivesFileLineAndColumn) {
  std::string text = kSmallModel;
  // Line 12 becomes `  nodes { op: "sigmoid" inputz: "z" outputs: "p" }`.
  text.replace(text.find("inputs: \"z\" outputs: \"p\""), 6, "inputz");
  std::string err = error_of([&] { parse_model_text(text, "bad.pbtxt"); });
  // Protobuf points just past the unknown field's name.
  int column = static_cast<int>(std::string("  nodes { op: \"sigmoid\" inputz").size()) + 1;
  EXPECT_EQ(err.rfind("bad.pbtxt:12:" + std::to_string(column) + ": ", 0), 0u) << err;
  EXPECT_NE(err.find("inputz"), std::string::npos) << err;
}

TEST(ModelLoader, UnbalancedBraceIsReportedAtTheEnd) {
  std::string text = "graph {\n  outputs: \"p\"\n";
  std::string err = error_of([&] { parse_model_text(text, "open.pbtxt"); });
  EXPECT_EQ(err.rfind("open.pbtxt:3:", 0), 0u) << err;
}

TEST(ModelLoader, WrongValueKindNamesTheLine) {
  std::string text = "graph {\n  inputs { name: \"x\" type { dtype: F99 } }\n}\n";
  std::string err = error_of([&] { parse_model_text(text, "enum.pbtxt"); });
  EXPECT_EQ(err.rfind("enum.pbtxt:2:", 0), 0u) << err;
  EXPECT_NE(err.find("F99"), std::string::npos) << err;
}

TEST(ModelLoader, EmptyModelIsAnError) {
  std::string err = error_of([] { parse_model_text("# nothing here\n", "empty.pbtxt"); });
  EXPECT_NE(err.find("empty.pbtxt"), std::string::npos) << err;
  EXPECT_NE(err.find("no outputs"), std::string::npos) << err;
}

TEST(ModelLoader, LoadsTextFilesByPath) {
  std::string path = write_file("m.pbtxt", kSmallModel);
  Model m = load_model(path);
  EXPECT_EQ(m.source, path);
  EXPECT_EQ(m.graph.nodes.size(), 4u);
  EXPECT_EQ(m.graph.nodes[3].line, 13);
}

TEST(ModelLoader, BinaryRoundTrip) {
  Model original = parse_model_text(kSmallModel, "small.pbtxt");
  std::string path = test::temp_dir() + "/m.pb";
  save_model(original, path);
  Model loaded = load_model(path);
  EXPECT_TRUE(same_proto(original, loaded));
  EXPECT_EQ(loaded.source, path);
  EXPECT_EQ(loaded.graph.nodes[0].line, 0);  // binary files have no lines
  EXPECT_TRUE(verify_model(loaded).empty());
  // The file really is binary, not text with a .pb name.
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  proto::Model direct;
  ASSERT_TRUE(direct.ParseFromString(bytes));
  EXPECT_EQ(direct.graph().nodes_size(), 4);
}

TEST(ModelLoader, TextRoundTrip) {
  Model original = parse_model_text(kSmallModel, "small.pbtxt");
  std::string path = test::temp_dir() + "/again.pbtxt";
  save_model(original, path);
  Model loaded = load_model(path);
  EXPECT_TRUE(same_proto(original, loaded));
  EXPECT_GT(loaded.graph.nodes[0].line, 0);
}

TEST(ModelLoader, EveryExampleModelSurvivesABinaryRoundTrip) {
  for (const char* name : {"linear_regression", "perceptron", "logistic_regression", "softmax_regression", "mlp_mnist"}) {
    Model text = load_model(test::source_path(std::string("models/") + name + ".pbtxt"));
    std::string path = test::temp_dir() + "/" + name + ".pb";
    save_model(text, path);
    Model binary = load_model(path);
    EXPECT_TRUE(same_proto(text, binary)) << name;
    EXPECT_TRUE(verify_model(binary).empty()) << name;
  }
}

TEST(ModelLoader, MissingFileIsAnErrorNamingIt) {
  std::string err = error_of([] { load_model("/nonexistent/dir/model.pbtxt"); });
  EXPECT_NE(err.find("/nonexistent/dir/model.pbtxt"), std::string::npos) << err;
  EXPECT_NE(err.find("cannot open"), std::string::npos) << err;
}

TEST(ModelLoader, DirectoryIsAnError) {
  std::string dir = test::temp_dir();
  std::string err = error_of([&] { load_model(dir); });
  EXPECT_NE(err.find("directory"), std::string::npos) << err;
}

TEST(ModelLoader, TruncatedBinaryIsAnError) {
  Model m = parse_model_text(kSmallModel, "small.pbtxt");
  std::string bytes = model_to_proto(m).SerializeAsString();
  std::string path = write_file("cut.pb", bytes.substr(0, bytes.size() / 2));
  std::string err = error_of([&] { load_model(path); });
  EXPECT_NE(err.find(path), std::string::npos) << err;
}

TEST(ModelLoader, TextFileNamedPbIsRejectedAsBinary) {
  std::string path = write_file("text.pb", kSmallModel);
  std::string err = error_of([&] { load_model(path); });
  EXPECT_NE(err.find("not a valid binary model"), std::string::npos) << err;
}

TEST(ModelLoader, SaveToAnUnwritablePathIsAnError) {
  Model m = parse_model_text(kSmallModel, "small.pbtxt");
  std::string err = error_of([&] { save_model(m, "/nonexistent/dir/out.pb"); });
  EXPECT_NE(err.find("/nonexistent/dir/out.pb"), std::string::npos) << err;
}

}  // namespace
}  // namespace dlc
