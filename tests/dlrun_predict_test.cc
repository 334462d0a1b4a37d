// `dlrun predict` and `dlrun info` run as tools, on a hand-built executable
// and, end to end, on every model in models/ compiled by `dlc compile`.
#include <gtest/gtest.h>

#include <cmath>
#include <dirent.h>
#include <fstream>

#include "compiler/passes/bind_batch.h"
#include "frontend/model_loader.h"
#include "ir/verifier.h"
#include "kernel/executable.h"
#include "runtime/npy.h"
#include "runtime/ref_executor.h"
#include "reference/ref_interpreter.h"
#include "runtime/session.h"
#include "tests/image_input_model.h"
#include "tests/runtime_test_util.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

using test::host_f32;

/// `rows` rows of 3 features, different in every row.
std::vector<float> features(int rows) {
  std::vector<float> x;
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < 3; ++k) x.push_back(static_cast<float>(std::sin(1.7 * r + k) * (k + 1)));
  return x;
}

/// relu(x@w + b) of the tiny model, row by row, in double then f32.
std::vector<float> tiny_predict(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b) {
  std::vector<float> out;
  for (size_t r = 0; r < x.size() / 3; ++r)
    for (int c = 0; c < 2; ++c) {
      double s = b[c];
      for (int k = 0; k < 3; ++k) s += double(x[r * 3 + k]) * double(w[k * 2 + c]);
      out.push_back(static_cast<float>(std::max(0.0, s)));
    }
  return out;
}

std::vector<float> floats(const HostTensor& t) {
  std::vector<float> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back(static_cast<float>(t.get(i)));
  return v;
}

class DlrunTool : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir();
    model_ = dir_ + "/tiny.dlc";
    save_executable_atomic(test::tiny_executable(4), model_);
  }
  /// Runs `dlrun ARGS`; returns the exit status, output in out_.
  int dlrun(const std::string& args) { return test::run_command(test::tool_path("dlrun") + " " + args, &out_); }

  std::string dir_, model_, out_;
};

TEST_F(DlrunTool, PredictRunsAnyNumberOfRowsInBatches) {
  for (int rows : {1, 4, 10, 13}) {
    auto x = features(rows);
    write_npy(dir_ + "/x.npy", host_f32({rows, 3}, x));
    ASSERT_EQ(dlrun("predict " + model_ + " --input " + dir_ + "/x.npy --output " + dir_ + "/y.npy"), 0) << out_;
    HostTensor y = read_npy(dir_ + "/y.npy");
    EXPECT_EQ(y.type, (TensorType{DType::f32, {rows, 2}})) << rows;
    EXPECT_EQ(floats(y), tiny_predict(x, test::tiny_w(), test::tiny_b())) << rows << " rows";
    int batches = (rows + 3) / 4;
    EXPECT_NE(out_.find(std::to_string(batches) + " batches of 4"), std::string::npos) << out_;
  }
}

TEST_F(DlrunTool, PredictWithNoRowsWritesAnEmptyArray) {
  write_npy(dir_ + "/x.npy", HostTensor(TensorType{DType::f32, {0, 3}}));
  ASSERT_EQ(dlrun("predict " + model_ + " --input " + dir_ + "/x.npy --output " + dir_ + "/y.npy"), 0) << out_;
  EXPECT_EQ(read_npy(dir_ + "/y.npy").type, (TensorType{DType::f32, {0, 2}}));
}

TEST_F(DlrunTool, PredictConvertsTypesAndReshapesRows) {
  // f64 rows shaped [1,3] feed an f32 input of rows [3].
  auto x = features(6);
  HostTensor x64(TensorType{DType::f64, {6, 1, 3}});
  for (size_t i = 0; i < x.size(); ++i) x64.set(static_cast<int64_t>(i), x[i]);
  write_npy(dir_ + "/x.npy", x64);
  ASSERT_EQ(dlrun("predict " + model_ + " --input=x=" + dir_ + "/x.npy --output act=" + dir_ + "/y.npy"), 0) << out_;
  EXPECT_EQ(floats(read_npy(dir_ + "/y.npy")), tiny_predict(x, test::tiny_w(), test::tiny_b()));
}

TEST_F(DlrunTool, PredictUsesWeightsFromACheckpoint) {
  std::vector<float> w = {1, -2, 0.5f, 0.25f, 3, -1}, b = {0.5f, 1};
  {
    Session s(test::tiny_executable(4), "tiny.dlc");
    s.set_param("w", host_f32({3, 2}, w));
    s.set_param("b", host_f32({2}, b));
    s.save_checkpoint(dir_ + "/ckpt.safetensors", {{"epoch", "1"}});
  }
  auto x = features(7);
  write_npy(dir_ + "/x.npy", host_f32({7, 3}, x));
  ASSERT_EQ(dlrun("predict " + model_ + " --input " + dir_ + "/x.npy --output " + dir_ + "/y.npy --weights " + dir_ +
                  "/ckpt.safetensors"),
            0)
      << out_;
  EXPECT_EQ(floats(read_npy(dir_ + "/y.npy")), tiny_predict(x, w, b));
}

TEST_F(DlrunTool, PredictErrorsNameWhatIsWrong) {
  write_npy(dir_ + "/x4.npy", host_f32({2, 4}, std::vector<float>(8, 1)));
  EXPECT_EQ(dlrun("predict " + model_ + " --input " + dir_ + "/x4.npy --output " + dir_ + "/y.npy"), 1);
  EXPECT_NE(out_.find("x4.npy: an array of shape [2,4], rows of shape [4] (4 values), but input 'x' f32[4,3] takes "
                      "rows of 3 values"),
            std::string::npos)
      << out_;

  write_npy(dir_ + "/x.npy", host_f32({2, 3}, std::vector<float>(6, 1)));
  EXPECT_EQ(dlrun("predict " + model_ + " --input q=" + dir_ + "/x.npy --output " + dir_ + "/y.npy"), 1);
  EXPECT_NE(out_.find("predict has no input 'q' (its inputs: x)"), std::string::npos) << out_;

  EXPECT_EQ(dlrun("predict " + model_ + " --input " + dir_ + "/none.npy --output " + dir_ + "/y.npy"), 1);
  EXPECT_NE(out_.find("none.npy: cannot open"), std::string::npos) << out_;

  EXPECT_EQ(dlrun("predict " + model_ + " --input " + dir_ + "/x.npy --output " + dir_ + "/y.npy --weights " + dir_ +
                  "/x.npy"),
            1);
  EXPECT_NE(out_.find("x.npy: "), std::string::npos) << out_;

  EXPECT_EQ(dlrun("predict " + dir_ + "/missing.dlc --input " + dir_ + "/x.npy --output " + dir_ + "/y.npy"), 1);
  EXPECT_NE(out_.find("missing.dlc: cannot open"), std::string::npos) << out_;

  EXPECT_EQ(dlrun("predict " + model_ + " --input " + dir_ + "/x.npy"), 2);
  EXPECT_NE(out_.find("needs MODEL.dlc, --input and --output"), std::string::npos) << out_;
}

/// True when some line of `text` holds every one of `parts`, in order.
bool has_line(const std::string& text, const std::vector<std::string>& parts) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    size_t at = 0;
    bool all = true;
    for (const auto& p : parts) {
      at = line.find(p, at);
      if (at == std::string::npos) {
        all = false;
        break;
      }
      at += p.size();
    }
    if (all) return true;
    start = end + 1;
  }
  return false;
}

TEST_F(DlrunTool, InfoDescribesTheExecutable) {
  ASSERT_EQ(dlrun("info " + model_), 0) << out_;
  const std::vector<std::vector<std::string>> lines = {
      {"target: ref"},
      {"batch: 4"},
      {"seed: 7"},
      {"training: loss loss, default learning rate 0.1"},
      {"inputs: 4"},
      {"x ", "f32[4,3]", "data"},
      {"y ", "f32[4,2]", "label"},
      {"learning_rate", "f32[]", "learning rate"},
      {"step ", "f32[]", "step"},
      {"outputs: 1"},
      {"act f32[4,2]"},
      {"entry points: 2"},
      {"predict ", "inputs: x ", "outputs: act"},
      {"train_step", "inputs: x, y, learning_rate, step", "outputs: loss, act", "updates 3 tensors"},
      {"parameters: 2 trainable, 8 elements; 1 state tensors, 1 elements"},
      {"w ", "f32[3,2]", "6", "trainable"},
      {"t ", "f32[]", "1", "state"},
      {"peak memory: not recorded for target ref"}};
  for (const auto& parts : lines) EXPECT_TRUE(has_line(out_, parts)) << "missing '" << parts[0] << "...' in:\n" << out_;
}

TEST_F(DlrunTool, DispatcherHelpAndErrors) {
  EXPECT_EQ(dlrun("--help"), 0);
  EXPECT_NE(out_.find("predict"), std::string::npos) << out_;
  EXPECT_EQ(dlrun("help predict"), 0);
  EXPECT_NE(out_.find("--weights"), std::string::npos) << out_;
  EXPECT_EQ(dlrun("frobnicate"), 2);
  EXPECT_NE(out_.find("unknown command 'frobnicate'"), std::string::npos) << out_;
  std::ofstream(dir_ + "/junk.dlc") << "this is not an executable";
  EXPECT_EQ(dlrun("info " + dir_ + "/junk.dlc"), 1);
  EXPECT_NE(out_.find("junk.dlc: "), std::string::npos) << out_;
}

// --- Image arrays: [N,28,28], [N,1,28,28] and [N,784] for any image input --

// Every array layout of the same images feeds every image-input shape of the
// same model (tests/image_input_model.h) and predicts the same bytes, for a
// single row, whole batches and a padded last batch. An array whose rows
// hold a different number of values is refused, naming the file, the
// array's shape and the input's.
TEST(DlrunImages, PredictTakesAnyImageArrayLayoutForAnyImageInput) {
  std::string dir = test::temp_dir(), out;
  std::vector<std::string> models;
  for (const char* shape : test::kImageRowShapes) {
    std::string src = test::write_image_input_model(dir, shape);
    models.push_back(src + ".dlc");
    ASSERT_EQ(test::run_command(test::tool_path("dlc") + " compile " + src + " --target cpu --batch 4 -o " +
                                    models.back(),
                                &out),
              0)
        << out;
  }
  for (int64_t rows : {1, 8, 11}) {
    Tensor pixels = test::random_tensor({rows, 784}, 7 + rows, 0, 1);
    const std::vector<std::vector<int64_t>> layouts = {{rows, 28, 28}, {rows, 1, 28, 28}, {rows, 784}};
    std::string want;
    for (const auto& layout : layouts) {
      HostTensor x = to_host(pixels);
      x.type.dims = layout;
      write_npy(dir + "/x.npy", x);
      for (const auto& model : models) {
        SCOPED_TRACE(model + " fed " + dims_str(layout));
        ASSERT_EQ(test::run_command(test::tool_path("dlrun") + " predict " + model + " --input " + dir +
                                        "/x.npy --output " + dir + "/y.npy",
                                    &out),
                  0)
            << out;
        HostTensor y = read_npy(dir + "/y.npy");
        EXPECT_EQ(y.type, (TensorType{DType::f32, {rows, 10}}));
        std::string got(y.bytes.begin(), y.bytes.end());
        if (want.empty()) want = got;
        EXPECT_TRUE(got == want) << "probabilities differ from those of the first layout and model";
      }
    }
  }
  write_npy(dir + "/small.npy", HostTensor(TensorType{DType::f32, {3, 27, 27}}));
  EXPECT_EQ(test::run_command(test::tool_path("dlrun") + " predict " + models[2] + " --input " + dir +
                                  "/small.npy --output " + dir + "/y.npy",
                              &out),
            1);
  EXPECT_NE(out.find("small.npy: an array of shape [3,27,27], rows of shape [27,27] (729 values), but input 'x' "
                     "f32[4,1,28,28] takes rows of 784 values"),
            std::string::npos)
      << out;
}

// --- End to end: dlc compile, then dlrun predict, against the interpreter --

std::vector<std::string> model_files() {
  std::vector<std::string> names;
  if (DIR* d = opendir(test::source_path("models").c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 6 && n.substr(n.size() - 6) == ".pbtxt") names.push_back(n);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(DlrunEndToEnd, EveryModelPredictsTheInterpretersNumbers) {
  auto models = model_files();
  ASSERT_FALSE(models.empty());
  std::string dir = test::temp_dir();
  const int64_t rows = 10;  // three batches of 4, the last one padded
  std::vector<std::pair<std::string, std::string>> cases;  // model file, target
  for (const auto& name : models)
    for (const char* target : {"ref", "cpu"}) cases.emplace_back(name, target);
  for (const auto& [name, target] : cases) {
    SCOPED_TRACE(name + " on " + target);
    std::string src = test::source_path("models/" + name), exe_path = dir + "/" + name + "." + target + ".dlc", out;
    ASSERT_EQ(test::run_command(test::tool_path("dlc") + " compile " + src + " --target " + target +
                                    " --batch 4 -o " + exe_path,
                                &out),
              0)
        << out;

    // The oracle: the source model with its batch bound to all rows at once,
    // fed the executable's initial parameters.
    Model m = load_model(src);
    BindBatchPass(rows).run(m);
    verify_or_throw(m.graph, src);
    proto::Executable exe = load_executable(exe_path);
    std::map<std::string, Tensor> feeds;
    for (const auto& p : exe.initial_params()) {
      if (!m.graph.find_param(p.name())) continue;  // optimizer state
      HostTensor h(from_proto(p.type()));
      std::copy(p.data().begin(), p.data().end(), h.bytes.begin());
      feeds[p.name()] = to_tensor(h);
    }
    const Input* data = nullptr;
    for (const auto& i : m.graph.inputs)
      if (i.role == proto::DATA) data = &i;
    ASSERT_NE(data, nullptr);
    Tensor x = test::random_tensor(data->type.dims, 99, -1, 1, data->type.dtype);
    round_to_storage(x);
    feeds[data->name] = x;
    write_npy(dir + "/x.npy", to_host(x));

    const proto::EntryPoint* predict = find_entry_point(exe, "predict");
    ASSERT_NE(predict, nullptr);
    ASSERT_GE(predict->outputs_size(), 1);
    std::string output = predict->outputs(0);
    ASSERT_TRUE(m.graph.types.count(output)) << "predict output '" << output << "' is not in the source model";
    Tensor want = RefInterpreter(m.graph).run(feeds, {output}).at(output);

    // On cpu, --verify-fusion also checks every kernel of the first batch.
    std::string verify = target == "cpu" ? " --verify-fusion" : "";
    ASSERT_EQ(test::run_command(test::tool_path("dlrun") + " predict " + exe_path + " --input " + dir +
                                    "/x.npy --output " + output + "=" + dir + "/y.npy" + verify,
                                &out),
              0)
        << out;
    if (target == "cpu") {
      EXPECT_NE(out.find("values match the reference interpreter"), std::string::npos) << out;
    }
    HostTensor got = read_npy(dir + "/y.npy");
    ASSERT_EQ(got.type.dims, want.type.dims);
    for (int64_t i = 0; i < want.numel(); ++i)
      EXPECT_NEAR(got.get(i), want[i], 1e-5 * (1 + std::abs(want[i]))) << "element " << i;
  }
}

}  // namespace
}  // namespace dlc
