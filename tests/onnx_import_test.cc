// ONNX import against PyTorch: every file of tests/fixtures/onnx/ (four
// models, both PyTorch exporters, two opsets each; tests/fixtures/onnx/
// make_fixtures.py) imports, compiles for cpu and ref, predicts PyTorch's
// logits, and trains two SGD steps to PyTorch's parameters, under PyTorch's
// names and layouts. The tests need no PyTorch: the expectations are files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "compiler/pipeline.h"
#include "frontend/model_loader.h"
#include "frontend/onnx/onnx_import.h"
#include "ir/error.h"
#include "ir/file_io.h"
#include "onnx/onnx.pb.h"
#include "runtime/safetensors.h"
#include "runtime/session.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

constexpr int64_t kFixtureBatch = 8;
// float32 against PyTorch's float32, summed in other orders.
constexpr double kTolerance = 1e-5;

std::string fixture(const std::string& name) { return test::source_path("tests/fixtures/onnx/" + name); }

/// The model a file holds: "lenet5" for "lenet5_dyn18.onnx".
std::string model_of(const std::string& file) {
  for (const char* m : {"view_flatten", "cnn_bn", "lenet5", "mlp"})
    if (file.rfind(m, 0) == 0) return m;
  return "";
}

std::vector<float> floats(const HostTensor& t) {
  std::vector<float> v(static_cast<size_t>(t.type.numel()));
  std::memcpy(v.data(), t.bytes.data(), v.size() * sizeof(float));
  return v;
}

/// |got - want| <= kTolerance * max(1, |want|) everywhere; names the worst element.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double e = std::fabs(double(got[i]) - want[i]) / std::max(1.0, std::fabs(double(want[i])));
    if (e > worst) worst = e, at = i;
  }
  EXPECT_LE(worst, kTolerance) << what << ": element " << at << " is " << got[at] << ", PyTorch " << want[at];
}

Session compiled(const Model& m, const std::string& target, int64_t batch, const std::string& name) {
  CompileOptions opts;
  opts.target = target;
  opts.batch = batch;
  return Session(compile_model(m, opts), name + " (" + target + ")");
}

OnnxImportOptions sgd_training() {
  OnnxImportOptions o;
  o.loss = "softmax_cross_entropy";
  o.optimizer.set_kind("sgd");
  o.optimizer.set_learning_rate(0.1);
  return o;
}

HostTensor labels(const HostTensor& t) {  // the fixtures' int32 labels
  EXPECT_EQ(t.type.dtype, DType::i32);
  return t;
}

const std::vector<std::string> kFiles = {
    "mlp_ts13.onnx",          "mlp_ts17.onnx",           "mlp_dyn18.onnx",          "mlp_dyn20.onnx",
    "lenet5_ts13.onnx",       "lenet5_ts17.onnx",        "lenet5_dyn18.onnx",       "lenet5_dyn20.onnx",
    "cnn_bn_ts13.onnx",       "cnn_bn_ts17.onnx",        "cnn_bn_dyn18.onnx",       "cnn_bn_dyn20.onnx",
    "cnn_bn_ts17_nofold.onnx", "cnn_bn_dyn18_nofold.onnx", "view_flatten_ts13.onnx", "view_flatten_ts17.onnx",
    "view_flatten_dyn18.onnx", "view_flatten_dyn20.onnx", "view_flatten_ts13_static.onnx"};

class OnnxFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxFixture, PredictsPyTorchsLogits) {
  const std::string file = GetParam();
  Checkpoint want = load_checkpoint(fixture(model_of(file) + ".expected.safetensors"));
  Model m = import_onnx(fixture(file), {});
  for (const std::string target : {"cpu", "ref"}) {
    Session s = compiled(m, target, kFixtureBatch, file);
    std::map<std::string, HostTensor> out;
    s.run("predict", {{"x", want.tensors.at("input")}}, &out);
    expect_close(floats(out.at("logits")), floats(want.tensors.at("output")), file + " on " + target);
  }
}

// Two SGD steps from the exported weights give PyTorch's weights and
// batch-norm running statistics, under the state_dict names. The default
// exports of cnn_bn fold batch norm into the convolutions (PyTorch's
// exporters do that in eval mode), so they train a different model than
// PyTorch's train mode does; their _nofold exports keep it.
TEST_P(OnnxFixture, TrainsToPyTorchsParameters) {
  const std::string file = GetParam();
  if (model_of(file) == "cnn_bn" && file.find("nofold") == std::string::npos)
    GTEST_SKIP() << file << " folds batch norm into the convolutions";
  Checkpoint want = load_checkpoint(fixture(model_of(file) + ".expected.safetensors"));
  Model m = import_onnx(fixture(file), sgd_training());
  for (const std::string target : {"cpu", "ref"}) {
    Session s = compiled(m, target, kFixtureBatch, file);
    for (int step = 1; step <= 2; ++step) {
      std::string k = "step" + std::to_string(step);
      std::map<std::string, HostTensor> out;
      s.run("train_step",
            {{"x", want.tensors.at(k + "_x")}, {"label", labels(want.tensors.at(k + "_y"))},
             {"learning_rate", HostTensor::copy_of(TensorType{DType::f32, {}}, std::vector<float>{0.1f}.data())},
             {"step", HostTensor::copy_of(TensorType{DType::f32, {}}, std::vector<float>{float(step)}.data())}},
            &out);
    }
    int compared = 0;
    for (const auto& [key, value] : want.tensors) {
      if (key.rfind("after.", 0) != 0) continue;
      std::string name = key.substr(6);
      expect_close(floats(s.get_param(name)), floats(value), file + " on " + target + ": " + name);
      ++compared;
    }
    EXPECT_GE(compared, 4) << file;
  }
}

INSTANTIATE_TEST_SUITE_P(Exports, OnnxFixture, ::testing::ValuesIn(kFiles), [](const auto& info) {
  std::string n = info.param.substr(0, info.param.size() - 5);
  for (char& c : n)
    if (c == '.') c = '_';
  return n;
});

// A batch baked into a Reshape by a static export ([8, -1]) is made
// symbolic: the model compiles and predicts at another batch size.
TEST(OnnxImport, StaticExportBatchBecomesSymbolic) {
  Checkpoint want = load_checkpoint(fixture("view_flatten.expected.safetensors"));
  Model m = import_onnx(fixture("view_flatten_ts13_static.onnx"), {});
  Session s = compiled(m, "cpu", 2, "static");
  HostTensor x = want.tensors.at("input");
  HostTensor two(TensorType{DType::f32, {2, 1, 28, 28}});
  std::memcpy(two.bytes.data(), x.bytes.data(), two.bytes.size());
  std::map<std::string, HostTensor> out;
  s.run("predict", {{"x", two}}, &out);
  std::vector<float> all = floats(want.tensors.at("output"));
  expect_close(floats(out.at("logits")), std::vector<float>(all.begin(), all.begin() + 20), "batch 2");
}

/// A small ONNX model file with `nodes` (op type, name) chained on x.
std::string write_model(const std::string& name, const std::vector<std::pair<std::string, std::string>>& nodes,
                        int64_t ir = 8, int64_t opset = 17) {
  onnx::ModelProto mp;
  mp.set_ir_version(ir);
  mp.add_opset_import()->set_version(opset);
  onnx::GraphProto* g = mp.mutable_graph();
  auto* x = g->add_input();
  x->set_name("x");
  x->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  x->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_param("batch");
  x->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(4);
  std::string prev = "x";
  for (const auto& [op, node] : nodes) {
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(node);
    n->add_input(prev);
    n->add_output(node + "_out");
    prev = node + "_out";
  }
  g->add_output()->set_name(prev);
  std::string path = test::temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << mp.SerializeAsString();
  return path;
}

TEST(OnnxImport, ListsEveryUnsupportedOpAtOnce) {
  std::string path = write_model("unsupported.onnx", {{"Relu", "r1"}, {"Erf", "erf1"}, {"LSTM", "lstm"},
                                                      {"Erf", "erf2"}, {"Round", "round"}});
  try {
    import_onnx(path, {});
    FAIL() << "imported a model with unsupported ops";
  } catch (const Error& e) {
    std::string text = e.what();
    EXPECT_NE(text.find("3 unsupported op types (opset 17)"), std::string::npos) << text;
    EXPECT_NE(text.find("Erf: erf1, erf2"), std::string::npos) << text;
    EXPECT_NE(text.find("LSTM: lstm"), std::string::npos) << text;
    EXPECT_NE(text.find("Round: round"), std::string::npos) << text;
    EXPECT_EQ(text.find("Relu"), std::string::npos) << text;
  }
}

TEST(OnnxImport, RefusesVersionsItDoesNotRead) {
  EXPECT_THROW(
      {
        try {
          import_onnx(write_model("ir11.onnx", {{"Relu", "r"}}, 11, 17), {});
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("IR version 11 is not supported"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  EXPECT_THROW(
      {
        try {
          import_onnx(write_model("opset12.onnx", {{"Relu", "r"}}, 8, 12), {});
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("opset 12 is not supported (13 to 20)"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  std::string junk = test::temp_dir() + "/junk.onnx";
  std::ofstream(junk) << "not a protobuf \xff\xff\xff";
  EXPECT_THROW(import_onnx(junk, {}), Error);
}

// Parameters keep their ONNX names and layouts (a Linear weight stays
// [out, in]); a weights-only save holds exactly PyTorch's state_dict keys,
// whatever the optimizer keeps.
TEST(OnnxImport, WeightsKeepPyTorchsNamesAndLayouts) {
  OnnxImportOptions o = sgd_training();
  o.optimizer.set_kind("adam");
  o.optimizer.set_learning_rate(1e-3);
  Model m = import_onnx(fixture("lenet5_dyn18.onnx"), o);
  Session s = compiled(m, "cpu", 4, "lenet5");
  EXPECT_EQ(s.get_param("fc1.weight").type.str(), "f32[120,400]");
  EXPECT_EQ(s.get_param("conv1.weight").type.str(), "f32[6,1,5,5]");
  std::string path = test::temp_dir() + "/weights.safetensors";
  s.save_weights(path, {});
  Checkpoint c = load_checkpoint(path);
  std::vector<std::string> keys;
  for (const auto& [k, v] : c.tensors) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"conv1.bias", "conv1.weight", "conv2.bias", "conv2.weight", "fc1.bias",
                                            "fc1.weight", "fc2.bias", "fc2.weight", "fc3.bias", "fc3.weight"}));
}

TEST(OnnxImport, OverridesWhichInitializersTrain) {
  OnnxImportOptions o = sgd_training();
  o.frozen = {"fc1.weight"};
  Model m = import_onnx(fixture("mlp_ts17.onnx"), o);
  EXPECT_TRUE(m.graph.find_param("fc1.weight")->frozen);
  EXPECT_FALSE(m.graph.find_param("fc1.bias")->frozen);
  o.frozen = {"no.such"};
  EXPECT_THROW(import_onnx(fixture("mlp_ts17.onnx"), o), Error);
}

// `dlc import` then `dlc compile` gives the executable `dlc compile
// MODEL.onnx` gives with the same flags.
TEST(OnnxImport, ImportThenCompileEqualsCompilingTheOnnxFile) {
  std::string dir = test::temp_dir(), out;
  std::string flags = " --loss softmax_cross_entropy --optimizer adam --lr 0.001";
  std::string dlc = test::tool_path("dlc");
  ASSERT_EQ(test::run_command(dlc + " import " + fixture("mlp_dyn20.onnx") + " -o " + dir + "/mlp.pbtxt" + flags, &out), 0)
      << out;
  ASSERT_EQ(test::run_command(dlc + " compile " + dir + "/mlp.pbtxt --batch 16 -o " + dir + "/a.dlc", &out), 0) << out;
  ASSERT_EQ(test::run_command(dlc + " compile " + fixture("mlp_dyn20.onnx") + " --batch 16 -o " + dir + "/b.dlc" + flags,
                              &out),
            0)
      << out;
  EXPECT_EQ(read_file_bytes(dir + "/a.dlc"), read_file_bytes(dir + "/b.dlc"));
  EXPECT_NE(test::run_command(dlc + " compile " + dir + "/mlp.pbtxt --batch 16 -o " + dir + "/c.dlc --loss mse", &out), 0);
  EXPECT_NE(out.find("apply to .onnx files only"), std::string::npos) << out;
}

}  // namespace
}  // namespace dlc

namespace dlc {
namespace {

// Initializers in external data files (what torch.onnx.export writes for
// models over 2 GiB) are read from beside the model; a location that leaves
// the model's folder is refused.
TEST(OnnxImport, ReadsInitializersFromExternalData) {
  onnx::ModelProto mp;
  ASSERT_TRUE(mp.ParseFromString(read_file_bytes(fixture("mlp_ts13.onnx"))));
  std::string dir = test::temp_dir();
  std::string blob = "sixteen bytes...";
  for (auto& t : *mp.mutable_graph()->mutable_initializer()) {
    ASSERT_TRUE(t.has_raw_data()) << t.name();
    std::string offset = std::to_string(blob.size()), length = std::to_string(t.raw_data().size());
    blob += t.raw_data();
    t.clear_raw_data();
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    for (auto [key, value] : {std::pair{"location", std::string("weights.bin")}, {"offset", offset}, {"length", length}}) {
      auto* kv = t.add_external_data();
      kv->set_key(key);
      kv->set_value(value);
    }
  }
  std::ofstream(dir + "/weights.bin", std::ios::binary) << blob;
  std::ofstream(dir + "/external.onnx", std::ios::binary) << mp.SerializeAsString();

  Checkpoint want = load_checkpoint(fixture("mlp.expected.safetensors"));
  Session s = compiled(import_onnx(dir + "/external.onnx", {}), "cpu", kFixtureBatch, "external");
  std::map<std::string, HostTensor> out;
  s.run("predict", {{"x", want.tensors.at("input")}}, &out);
  expect_close(floats(out.at("logits")), floats(want.tensors.at("output")), "external data");

  mp.mutable_graph()->mutable_initializer(0)->mutable_external_data(0)->set_value("../weights.bin");
  std::ofstream(dir + "/escape.onnx", std::ios::binary) << mp.SerializeAsString();
  try {
    import_onnx(dir + "/escape.onnx", {});
    FAIL() << "read external data outside the model's folder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("outside the model's folder"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dlc
