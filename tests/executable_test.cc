// The executable format: round trips, every validation fault, malformed
// files, and the ref executor running a hand-built executable.
#include <gtest/gtest.h>
#include <google/protobuf/util/message_differencer.h>

#include <cmath>
#include <fstream>
#include <random>

#include "compiler/pipeline.h"
#include "frontend/model_loader.h"
#include "ir/error.h"
#include "kernel/executable.h"
#include "ir/file_io.h"
#include "runtime/ref_executor.h"
#include "tests/runtime_test_util.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

using test::host_f32;
using test::tiny_executable;

/// The message of validate_executable(exe), or "" when it passes.
std::string fault_of(const proto::Executable& exe, const std::string& source = "m.dlc") {
  try {
    validate_executable(exe, source);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

#define EXPECT_FAULT(exe, text)                                              \
  do {                                                                       \
    std::string msg = fault_of(exe);                                         \
    EXPECT_NE(msg.find(text), std::string::npos) << "message: " << msg;     \
    EXPECT_EQ(msg.rfind("m.dlc", 0), 0u) << "not prefixed by the file: " << msg; \
  } while (0)

TEST(Executable, HandBuiltExecutableIsValid) { EXPECT_EQ(fault_of(tiny_executable()), ""); }

TEST(Executable, SaveLoadRoundTrip) {
  std::string path = test::temp_dir() + "/m.dlc";
  proto::Executable exe = tiny_executable();
  save_executable_atomic(exe, path);
  proto::Executable back = load_executable(path);
  EXPECT_EQ(back.end_marker(), kEndMarker);
  EXPECT_TRUE(back.has_code_checksum());
  exe.set_end_marker(kEndMarker);
  exe.set_code_checksum(code_checksum(exe));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(exe, back));
}

TEST(Executable, SaveRefusesAnInvalidExecutableAndWritesNothing) {
  std::string dir = test::temp_dir();
  proto::Executable exe = tiny_executable();
  exe.set_format_version(0);
  EXPECT_THROW(save_executable_atomic(exe, dir + "/bad.dlc"), Error);
  std::ifstream f(dir + "/bad.dlc");
  EXPECT_FALSE(f.good());
}

TEST(Executable, WrongVersion) {
  auto exe = tiny_executable();
  exe.set_format_version(kFormatVersion + 1);
  EXPECT_FAULT(exe, "format version " + std::to_string(kFormatVersion + 1) + ", but this runtime reads version");
}

TEST(Executable, NoVersionIsNotAnExecutable) {
  auto exe = tiny_executable();
  exe.set_format_version(0);
  EXPECT_FAULT(exe, "not a dlc executable");
}

TEST(Executable, UnknownTarget) {
  auto exe = tiny_executable();
  exe.set_target("tpu");
  EXPECT_FAULT(exe, "unknown target 'tpu'");
}

TEST(Executable, BatchNotPositive) {
  auto exe = tiny_executable();
  exe.set_batch(0);
  EXPECT_FAULT(exe, "batch size 0 is not positive");
}

TEST(Executable, BadLearningRate) {
  auto exe = tiny_executable();
  exe.set_default_learning_rate(-1);
  EXPECT_FAULT(exe, "default learning rate");
}

TEST(Executable, GraphThatDoesNotVerify) {
  auto exe = tiny_executable();
  exe.mutable_graph()->mutable_nodes(0)->set_op("no_such_op");
  EXPECT_FAULT(exe, "unknown op 'no_such_op'");
}

TEST(Executable, BatchDimensionLeft) {
  auto exe = tiny_executable();
  exe.mutable_graph()->mutable_inputs(0)->mutable_type()->set_dims(0, -1);
  EXPECT_FAULT(exe, "input 'x': f32[batch,3] still has the batch dimension");
}

TEST(Executable, UnknownDtype) {
  auto exe = tiny_executable();
  exe.mutable_graph()->mutable_params(0)->mutable_type()->set_dtype(static_cast<proto::DType>(42));
  EXPECT_FAULT(exe, "parameter 'w': unknown dtype 42");
}

TEST(Executable, NegativeDimension) {
  auto exe = tiny_executable();
  exe.mutable_graph()->mutable_params(0)->mutable_type()->set_dims(1, -5);
  EXPECT_FAULT(exe, "parameter 'w': dimension 1 is -5");
}

TEST(Executable, UnknownInputRole) {
  auto exe = tiny_executable();
  exe.mutable_graph()->mutable_inputs(0)->set_role(static_cast<proto::InputRole>(9));
  EXPECT_FAULT(exe, "input 'x' has unknown role 9");
}

TEST(Executable, NoEntryPoints) {
  auto exe = tiny_executable();
  exe.clear_entry_points();
  EXPECT_FAULT(exe, "no entry points");
}

TEST(Executable, DuplicateEntryPoint) {
  auto exe = tiny_executable();
  *exe.add_entry_points() = exe.entry_points(0);
  EXPECT_FAULT(exe, "entry point 'predict' is defined twice");
}

TEST(Executable, EntryInputNotAGraphInput) {
  auto exe = tiny_executable();
  exe.mutable_entry_points(0)->add_inputs("w");
  EXPECT_FAULT(exe, "entry point 'predict': input 'w' is not an input of the graph");
}

TEST(Executable, EntryOutputDangling) {
  auto exe = tiny_executable();
  exe.mutable_entry_points(0)->add_outputs("nothing");
  EXPECT_FAULT(exe, "entry point 'predict': output 'nothing' is not a value of the graph");
}

TEST(Executable, EntryMissingAnInputItNeeds) {
  auto exe = tiny_executable();
  exe.mutable_entry_points(0)->clear_inputs();
  EXPECT_FAULT(exe, "entry point 'predict' needs input 'x' but does not list it");
}

TEST(Executable, UpdateOfANonParameter) {
  auto exe = tiny_executable();
  exe.mutable_entry_points(1)->mutable_updates(0)->set_param("x");
  EXPECT_FAULT(exe, "entry point 'train_step': update of 'x', which is not a parameter");
}

TEST(Executable, UpdateFromADanglingValue) {
  auto exe = tiny_executable();
  exe.mutable_entry_points(1)->mutable_updates(0)->set_value("ghost");
  EXPECT_FAULT(exe, "update of 'w' from 'ghost', which is not a value of the graph");
}

TEST(Executable, UpdateOfTheWrongType) {
  auto exe = tiny_executable();
  exe.mutable_entry_points(1)->mutable_updates(0)->set_value("b_new");
  EXPECT_FAULT(exe, "update of 'w' f32[3,2] from 'b_new' f32[2]: types differ");
}

TEST(Executable, ParameterUpdatedTwice) {
  auto exe = tiny_executable();
  *exe.mutable_entry_points(1)->add_updates() = exe.entry_points(1).updates(0);
  EXPECT_FAULT(exe, "parameter 'w' is updated twice");
}

TEST(Executable, MissingInitialValue) {
  auto exe = tiny_executable();
  exe.mutable_initial_params()->DeleteSubrange(1, 1);
  EXPECT_FAULT(exe, "parameter 'b' has no initial value");
}

TEST(Executable, InitialValueOfTheWrongSize) {
  auto exe = tiny_executable();
  exe.mutable_initial_params(0)->mutable_data()->resize(20);
  EXPECT_FAULT(exe, "initial value of 'w' holds 20 bytes, but f32[3,2] needs 24");
}

TEST(Executable, InitialValueOfTheWrongType) {
  auto exe = tiny_executable();
  exe.mutable_initial_params(0)->mutable_type()->set_dims(0, 2);
  exe.mutable_initial_params(0)->mutable_type()->set_dims(1, 3);
  EXPECT_FAULT(exe, "initial value of 'w' has type f32[2,3], but the parameter is f32[3,2]");
}

TEST(Executable, InitialValueOfAnUnknownParameter) {
  auto exe = tiny_executable();
  test::add_initial_param(exe, "stray", {DType::f32, {1}}, {1.0f});
  EXPECT_FAULT(exe, "initial value of 'stray': not a parameter of the graph");
}

TEST(Executable, InitialValueGivenTwice) {
  auto exe = tiny_executable();
  *exe.add_initial_params() = exe.initial_params(1);
  EXPECT_FAULT(exe, "initial value of 'b' is given twice");
}

TEST(Executable, DanglingLoss) {
  auto exe = tiny_executable();
  exe.set_loss("nope");
  EXPECT_FAULT(exe, "loss 'nope' is not a value of the graph");
}

TEST(Executable, ReportsEveryFaultOnItsOwnLine) {
  auto exe = tiny_executable();
  exe.set_target("tpu");
  exe.set_loss("nope");
  std::string msg = fault_of(exe);
  EXPECT_NE(msg.find("m.dlc: unknown target"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\nm.dlc: loss 'nope'"), std::string::npos) << msg;
}

TEST(Executable, CutAtAFieldBoundaryIsTruncated) {
  // Dropping the trailing fields leaves bytes that still parse; only the
  // end marker shows that something is missing.
  std::string full = serialize_executable(tiny_executable(), "m.dlc");
  // The marker is the last field: a 2-byte tag and 8 bytes of fixed64.
  std::string unmarked = full.substr(0, full.size() - 10);
  proto::Executable parsed;
  ASSERT_TRUE(parsed.ParseFromString(unmarked));
  try {
    parse_executable(unmarked, "cut.dlc");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.dlc: truncated dlc executable"), std::string::npos) << e.what();
  }
}

TEST(Executable, MissingFileNamesIt) {
  try {
    load_executable("/nonexistent/m.dlc");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/m.dlc: cannot open"), std::string::npos) << e.what();
  }
}

/// Loading must end in a valid executable or a dlc::Error naming the source.
void expect_loads_or_fails_cleanly(const std::string& bytes, const std::string& what) {
  try {
    parse_executable(bytes, "fuzz.dlc");
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("fuzz.dlc", 0), 0u) << what << ": " << e.what();
  }
}

TEST(Executable, TruncatedFilesAreErrors) {
  std::string bytes = serialize_executable(tiny_executable(), "m.dlc");
  ASSERT_GT(bytes.size(), 200u);
  for (size_t n = 0; n < bytes.size(); ++n) {
    // Every proper prefix of this message cuts a field or drops a required
    // part, so each must be refused, not merely survive.
    EXPECT_THROW(parse_executable(bytes.substr(0, n), "cut.dlc"), Error) << "prefix of " << n << " bytes";
  }
}

TEST(Executable, RandomBytesAreErrors) {
  std::mt19937_64 rng(1);
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes(rng() % 600, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    EXPECT_THROW(parse_executable(bytes, "random.dlc"), Error) << "trial " << trial;
  }
}

TEST(Executable, CorruptedBytesNeverCrash) {
  std::string good = serialize_executable(tiny_executable(), "m.dlc");
  std::mt19937_64 rng(2);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bytes = good;
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    expect_loads_or_fails_cleanly(bytes, "trial " + std::to_string(trial));
  }
}

/// A cpu executable of a small model, serialized.
std::string cpu_executable_bytes(proto::Executable* exe) {
  Model m = load_model(test::source_path("models/softmax_regression.pbtxt"));
  CompileOptions opts;
  opts.target = "cpu";
  opts.batch = 2;
  *exe = compile_model(m, opts);
  return serialize_executable(*exe, "m.dlc");
}

TEST(Executable, CorruptedNativeCodeIsRefusedOnLoad) {
  proto::Executable exe;
  std::string good = cpu_executable_bytes(&exe);
  size_t at = good.find(exe.code());
  ASSERT_NE(at, std::string::npos);
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 50; ++trial) {
    std::string bytes = good;
    char& b = bytes[at + rng() % exe.code().size()];
    b = static_cast<char>(b ^ (1 + rng() % 255));  // always a change
    try {
      parse_executable(bytes, "m.dlc");
      ADD_FAILURE() << "trial " << trial << ": corrupt code was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("m.dlc: the native code is corrupt"), std::string::npos) << e.what();
    }
  }
  // A file from before checksums is told apart from a corrupt one.
  proto::Executable old = parse_executable(good, "m.dlc");
  old.clear_code_checksum();
  std::string old_bytes;
  ASSERT_TRUE(old.SerializeToString(&old_bytes));
  try {
    parse_executable(old_bytes, "m.dlc");
    ADD_FAILURE() << "code without a checksum was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no checksum"), std::string::npos) << e.what();
  }
}

TEST(Executable, CorruptedCpuExecutablesRunOrFailCleanly) {
  // A flipped byte anywhere in a native executable (graph, kernel programs,
  // code, weights) gives an error at load or when the executor is made, or
  // a model that runs: never a crash. (CI runs this under AddressSanitizer.)
  proto::Executable exe;
  std::string good = cpu_executable_bytes(&exe);
  std::mt19937_64 rng(4);
  int refused = 0, ran = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes = good;
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    try {
      proto::Executable loaded = parse_executable(bytes, "m.dlc");
      auto executor = make_executor(loaded);
      const proto::EntryPoint* predict = find_entry_point(loaded, "predict");
      ASSERT_NE(predict, nullptr);
      Graph g = executable_graph(loaded, "m.dlc");
      std::map<std::string, HostTensor> inputs, outputs;
      for (const auto& name : predict->inputs()) inputs[name] = HostTensor(g.type_of(name));
      executor->run("predict", inputs, &outputs);
      ++ran;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()), "");
      ++refused;
    }
  }
  // Both outcomes happened, so the flips reached the parts that matter.
  EXPECT_GT(refused, 0);
  EXPECT_GT(ran, 0);
}

// --- The ref executor ---------------------------------------------------

const std::vector<float> kX = {1, 2, 3, -1, 0.5f, 2, 0, 0, 0, 4, -3, 1};  // 4 rows of 3
const std::vector<float> kY = {1, 0, 0, 1, 0.5f, 0.5f, -1, 2};          // 4 rows of 2

/// x@w + b for the tiny model, computed here in double.
std::vector<double> linear(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b) {
  std::vector<double> out(8);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 2; ++c) {
      double s = b[c];
      for (int k = 0; k < 3; ++k) s += double(x[r * 3 + k]) * double(w[k * 2 + c]);
      out[r * 2 + c] = s;
    }
  return out;
}

std::vector<float> floats(const HostTensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = static_cast<float>(t.get(i));
  return v;
}

TEST(RefExecutor, PredictComputesTheModel) {
  RefExecutor ex(tiny_executable());
  std::map<std::string, HostTensor> out;
  ex.run("predict", {{"x", host_f32({4, 3}, kX)}}, &out);
  auto want = linear(kX, test::tiny_w(), test::tiny_b());
  const HostTensor& act = out.at("act");
  EXPECT_EQ(act.type, (TensorType{DType::f32, {4, 2}}));
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(act.get(i), std::max(0.0, want[i])) << i;
  // predict updates nothing
  EXPECT_EQ(floats(ex.get_state("w")), test::tiny_w());
}

TEST(RefExecutor, TrainStepAppliesSgdByHand) {
  RefExecutor ex(tiny_executable());
  const float lr = 0.05f;
  std::map<std::string, HostTensor> out;
  ex.run("train_step",
         {{"x", host_f32({4, 3}, kX)},
          {"y", host_f32({4, 2}, kY)},
          {"learning_rate", host_f32({}, {lr})},
          {"step", host_f32({}, {3})}},
         &out);
  // loss = mean((pred - y)^2); dw = x^T (2/8)(pred - y); db = sum_rows (2/8)(pred - y)
  auto pred = linear(kX, test::tiny_w(), test::tiny_b());
  double loss = 0;
  std::vector<double> dpred(8);
  for (int i = 0; i < 8; ++i) {
    double d = pred[i] - kY[i];
    loss += d * d / 8;
    dpred[i] = 2 * d / 8;
  }
  EXPECT_NEAR(out.at("loss").get(0), loss, 1e-5 * loss);
  auto w = floats(ex.get_state("w"));
  for (int k = 0; k < 3; ++k)
    for (int c = 0; c < 2; ++c) {
      double g = 0;
      for (int r = 0; r < 4; ++r) g += kX[r * 3 + k] * dpred[r * 2 + c];
      EXPECT_NEAR(w[k * 2 + c], test::tiny_w()[k * 2 + c] - lr * g, 1e-6) << k << "," << c;
    }
  auto b = floats(ex.get_state("b"));
  for (int c = 0; c < 2; ++c) {
    double g = 0;
    for (int r = 0; r < 4; ++r) g += dpred[r * 2 + c];
    EXPECT_NEAR(b[c], test::tiny_b()[c] - lr * g, 1e-6);
  }
  EXPECT_EQ(ex.get_state("t").get(0), 3.0);  // the frozen state follows the step input
}

TEST(RefExecutor, StateIsRoundedToItsDtypeAfterEachUpdate) {
  // Persistent f32 state must be exactly representable in f32, so that a
  // checkpoint (which stores f32) loses nothing and resuming is bit-exact.
  RefExecutor ex(tiny_executable());
  ex.run("train_step",
         {{"x", host_f32({4, 3}, kX)},
          {"y", host_f32({4, 2}, kY)},
          {"learning_rate", host_f32({}, {0.0123f})},
          {"step", host_f32({}, {1})}},
         nullptr);
  RefExecutor other(tiny_executable());
  for (const char* name : {"w", "b", "t"}) other.set_state(name, ex.get_state(name));
  std::map<std::string, HostTensor> a, b;
  ex.run("predict", {{"x", host_f32({4, 3}, kX)}}, &a);
  other.run("predict", {{"x", host_f32({4, 3}, kX)}}, &b);
  EXPECT_EQ(a.at("act").bytes, b.at("act").bytes);
}

TEST(RefExecutor, FailedRunLeavesStateAndFeedsAlone) {
  RefExecutor ex(tiny_executable());
  std::map<std::string, HostTensor> out;
  EXPECT_THROW(ex.run("train_step", {{"x", host_f32({4, 3}, kX)}}, &out), Error);
  EXPECT_EQ(floats(ex.get_state("w")), test::tiny_w());
  // The failed run's inputs must not linger: predict without x must fail.
  EXPECT_THROW(ex.run("predict", {}, &out), Error);
}

TEST(RefExecutor, UnknownEntryAndStateNames) {
  RefExecutor ex(tiny_executable());
  std::map<std::string, HostTensor> out;
  try {
    ex.run("eval", {}, &out);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no entry point 'eval'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ex.get_state("x"), Error);
  try {
    ex.set_state("w", host_f32({2}, {1, 2}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'w' is f32[3,2], cannot set it from f32[2]"), std::string::npos) << e.what();
  }
}

/// x -> dropout(0.5) as both predict and train_step, with a step input.
proto::Executable dropout_executable() {
  Graph g;
  GraphBuilder b(g);
  auto x = b.input("x", {DType::f32, {64}});
  auto step = b.input("step", {DType::f32, {}}, proto::STEP);
  auto y = b.op("dropout", {x}, {{"rate", attr_f(0.5)}}, "y");
  b.output(y);
  proto::Executable exe;
  exe.set_format_version(kFormatVersion);
  exe.set_target("ref");
  exe.set_batch(1);
  exe.set_seed(11);
  *exe.mutable_graph() = graph_to_proto(g);
  for (const char* name : {"predict", "train_step"}) {
    auto* e = exe.add_entry_points();
    e->set_name(name);
    e->add_inputs(x);
    if (std::string(name) == "train_step") e->add_inputs(step);
    e->add_outputs(y);
  }
  return exe;
}

TEST(RefExecutor, TrainStepRunsInTrainingModeKeyedByStep) {
  RefExecutor ex(dropout_executable());
  HostTensor ones = host_f32({64}, std::vector<float>(64, 1.0f));
  auto run = [&](const std::string& entry, float step) {
    std::map<std::string, HostTensor> in{{"x", ones}}, out;
    if (entry == "train_step") in["step"] = host_f32({}, {step});
    ex.run(entry, in, &out);
    return out.at("y").bytes;
  };
  EXPECT_EQ(run("predict", 0), ones.bytes);  // identity outside training
  auto step1 = run("train_step", 1);
  EXPECT_NE(step1, ones.bytes);
  EXPECT_EQ(run("train_step", 1), step1);  // same seed and step, same mask
  EXPECT_NE(run("train_step", 2), step1);  // another step, another mask
}

TEST(MakeExecutor, DispatchesByTarget) {
  auto exe = tiny_executable();
  EXPECT_NE(dynamic_cast<RefExecutor*>(make_executor(exe).get()), nullptr);
  exe.set_target("cuda");
  try {
    make_executor(exe);
    FAIL();
  } catch (const Error& e) {
#ifdef DLC_WITH_CUDA
    // This build has the cuda executor; the tiny executable has no code for it.
    EXPECT_NE(std::string(e.what()).find("has no code"), std::string::npos) << e.what();
#else
    EXPECT_NE(std::string(e.what()).find("no cuda executor"), std::string::npos) << e.what();
#endif
  }
#if !__has_include("runtime/cpu_executor.h")
  exe.set_target("cpu");
  try {
    make_executor(exe);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("this build has no cpu executor"), std::string::npos) << e.what();
  }
#endif
}

TEST(HostTensor, GetSetConvertEveryDtype) {
  for (DType t : {DType::f32, DType::f64, DType::i32, DType::i64, DType::boolean}) {
    HostTensor h(TensorType{t, {3}});
    h.set(0, 1);
    h.set(1, t == DType::boolean ? 1 : -7);
    h.set(2, 0);
    EXPECT_EQ(h.get(0), 1) << dtype_name(t);
    EXPECT_EQ(h.get(1), t == DType::boolean ? 1 : -7) << dtype_name(t);
    EXPECT_EQ(h.get(2), 0) << dtype_name(t);
  }
  HostTensor i(TensorType{DType::i32, {2}});
  i.set(0, 1e20);  // saturates rather than invoking undefined behaviour
  i.set(1, std::nan(""));
  EXPECT_EQ(i.get(0), 2147483647.0);
  EXPECT_EQ(i.get(1), 0.0);
}

}  // namespace
}  // namespace dlc
