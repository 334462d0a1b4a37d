// The C API: describing, running, parameters and checkpoints through dlrt.h,
// and the status and error text of every failing call.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "dlrt.h"
#include "kernel/executable.h"
#include "ir/file_io.h"
#include "tests/runtime_test_util.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

const std::vector<float> kX = {1, 2, 3, -1, 0.5f, 2, 0, 0, 0, 4, -3, 1};
const std::vector<float> kY = {1, 0, 0, 1, 0.5f, 0.5f, -1, 2};

class CApi : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir();
    path_ = dir_ + "/tiny.dlc";
    save_executable_atomic(test::tiny_executable(), path_);
    ASSERT_EQ(dlrt_model_load(path_.c_str(), &m_), DLRT_OK) << dlrt_last_error();
  }
  void TearDown() override { dlrt_model_free(m_); }

  /// Expects `status` to be `want` with error text containing `text`.
  void expect_error(dlrt_status status, dlrt_status want, const std::string& text) {
    EXPECT_EQ(status, want) << dlrt_status_name(status) << ": " << dlrt_last_error();
    EXPECT_NE(std::string(dlrt_last_error()).find(text), std::string::npos) << "error text: " << dlrt_last_error();
  }

  dlrt_status predict(const float* x, int64_t x_numel, float* act, int64_t act_numel) {
    dlrt_input in = {"x", DLRT_F32, x, x_numel};
    dlrt_output out = {"act", DLRT_F32, act, act_numel};
    return dlrt_run(m_, "predict", &in, 1, &out, 1);
  }

  std::string dir_, path_;
  dlrt_model* m_ = nullptr;
};

TEST_F(CApi, HeaderIsPureC) {
  std::string out;
  int rc = test::run_command("cc -std=c99 -Wall -Wextra -pedantic -Werror -fsyntax-only -x c " +
                                 test::source_path("runtime/include/dlrt.h"),
                             &out);
  EXPECT_EQ(rc, 0) << out;
}

TEST_F(CApi, DescribesTheModel) {
  const char* target = nullptr;
  ASSERT_EQ(dlrt_model_target(m_, &target), DLRT_OK);
  EXPECT_STREQ(target, "ref");
  int64_t batch = 0;
  ASSERT_EQ(dlrt_model_batch(m_, &batch), DLRT_OK);
  EXPECT_EQ(batch, 4);
  uint64_t seed = 0;
  ASSERT_EQ(dlrt_model_seed(m_, &seed), DLRT_OK);
  EXPECT_EQ(seed, 7u);
  double lr = 0;
  ASSERT_EQ(dlrt_model_default_learning_rate(m_, &lr), DLRT_OK);
  EXPECT_EQ(lr, 0.1);
  const char* loss = nullptr;
  ASSERT_EQ(dlrt_model_loss(m_, &loss), DLRT_OK);
  EXPECT_STREQ(loss, "loss");
  int64_t peak = 0;
  ASSERT_EQ(dlrt_model_peak_memory(m_, &peak), DLRT_OK);
  EXPECT_EQ(peak, -1);

  size_t n = 0;
  ASSERT_EQ(dlrt_model_input_count(m_, &n), DLRT_OK);
  ASSERT_EQ(n, 4u);
  const char* names[] = {"x", "y", "learning_rate", "step"};
  const dlrt_role roles[] = {DLRT_ROLE_DATA, DLRT_ROLE_LABEL, DLRT_ROLE_LEARNING_RATE, DLRT_ROLE_STEP};
  for (size_t i = 0; i < n; ++i) {
    dlrt_tensor_info info;
    ASSERT_EQ(dlrt_model_input(m_, i, &info), DLRT_OK);
    EXPECT_STREQ(info.name, names[i]);
    EXPECT_EQ(info.role, roles[i]);
    EXPECT_EQ(info.dtype, DLRT_F32);
  }
  dlrt_tensor_info x;
  ASSERT_EQ(dlrt_model_input(m_, 0, &x), DLRT_OK);
  ASSERT_EQ(x.rank, 2);
  EXPECT_EQ(x.dims[0], 4);
  EXPECT_EQ(x.dims[1], 3);
  EXPECT_EQ(x.numel, 12);

  ASSERT_EQ(dlrt_model_output_count(m_, &n), DLRT_OK);
  ASSERT_EQ(n, 1u);
  dlrt_tensor_info act;
  ASSERT_EQ(dlrt_model_output(m_, 0, &act), DLRT_OK);
  EXPECT_STREQ(act.name, "act");
  EXPECT_EQ(act.role, DLRT_ROLE_NONE);

  ASSERT_EQ(dlrt_entry_count(m_, &n), DLRT_OK);
  ASSERT_EQ(n, 2u);
  const char* entry = nullptr;
  ASSERT_EQ(dlrt_entry_name(m_, 1, &entry), DLRT_OK);
  EXPECT_STREQ(entry, "train_step");
  int present = -1;
  ASSERT_EQ(dlrt_has_entry(m_, "predict", &present), DLRT_OK);
  EXPECT_EQ(present, 1);
  ASSERT_EQ(dlrt_has_entry(m_, "eval", &present), DLRT_OK);
  EXPECT_EQ(present, 0);
  ASSERT_EQ(dlrt_entry_input_count(m_, "train_step", &n), DLRT_OK);
  EXPECT_EQ(n, 4u);
  dlrt_tensor_info step;
  ASSERT_EQ(dlrt_entry_input(m_, "train_step", 3, &step), DLRT_OK);
  EXPECT_STREQ(step.name, "step");
  EXPECT_EQ(step.rank, 0);
  EXPECT_EQ(step.numel, 1);
  ASSERT_EQ(dlrt_entry_output_count(m_, "train_step", &n), DLRT_OK);
  EXPECT_EQ(n, 2u);
  dlrt_tensor_info loss_info;
  ASSERT_EQ(dlrt_entry_output(m_, "train_step", 0, &loss_info), DLRT_OK);
  EXPECT_STREQ(loss_info.name, "loss");
  ASSERT_EQ(dlrt_entry_update_count(m_, "train_step", &n), DLRT_OK);
  EXPECT_EQ(n, 3u);
  ASSERT_EQ(dlrt_entry_update_count(m_, "predict", &n), DLRT_OK);
  EXPECT_EQ(n, 0u);

  ASSERT_EQ(dlrt_param_count(m_, &n), DLRT_OK);
  ASSERT_EQ(n, 3u);
  dlrt_tensor_info w, t;
  ASSERT_EQ(dlrt_find_param(m_, "w", &w), DLRT_OK);
  EXPECT_EQ(w.trainable, 1);
  EXPECT_EQ(w.numel, 6);
  ASSERT_EQ(dlrt_find_param(m_, "t", &t), DLRT_OK);
  EXPECT_EQ(t.trainable, 0);  // frozen state
}

TEST_F(CApi, PredictMatchesTheModel) {
  std::vector<float> act(8);
  ASSERT_EQ(predict(kX.data(), 12, act.data(), 8), DLRT_OK) << dlrt_last_error();
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 2; ++c) {
      double s = test::tiny_b()[c];
      for (int k = 0; k < 3; ++k) s += kX[r * 3 + k] * test::tiny_w()[k * 2 + c];
      EXPECT_FLOAT_EQ(act[r * 2 + c], static_cast<float>(std::max(0.0, s)));
    }
}

TEST_F(CApi, TrainStepUpdatesParametersAndRunsWithoutOutputs) {
  float lr = 0.1f, step = 1;
  dlrt_input in[] = {{"x", DLRT_F32, kX.data(), 12},
                     {"y", DLRT_F32, kY.data(), 8},
                     {"learning_rate", DLRT_F32, &lr, 1},
                     {"step", DLRT_F32, &step, 1}};
  float loss_before = 0, loss_after = 0;
  dlrt_output out = {"loss", DLRT_F32, &loss_before, 1};
  ASSERT_EQ(dlrt_run(m_, "train_step", in, 4, &out, 1), DLRT_OK) << dlrt_last_error();
  ASSERT_EQ(dlrt_run(m_, "train_step", in, 4, nullptr, 0), DLRT_OK) << dlrt_last_error();
  out.data = &loss_after;
  ASSERT_EQ(dlrt_run(m_, "train_step", in, 4, &out, 1), DLRT_OK) << dlrt_last_error();
  EXPECT_LT(loss_after, loss_before);
  std::vector<float> w(6);
  ASSERT_EQ(dlrt_get_param(m_, "w", DLRT_F32, w.data(), 6), DLRT_OK);
  EXPECT_NE(w, test::tiny_w());
}

TEST_F(CApi, SetAndGetParameters) {
  std::vector<float> w = {1, 2, 3, 4, 5, 6}, back(6);
  ASSERT_EQ(dlrt_set_param(m_, "w", DLRT_F32, w.data(), 6), DLRT_OK) << dlrt_last_error();
  ASSERT_EQ(dlrt_get_param(m_, "w", DLRT_F32, back.data(), 6), DLRT_OK);
  EXPECT_EQ(back, w);
}

TEST_F(CApi, CheckpointRoundTripWithMetadata) {
  std::string ckpt = dir_ + "/c.safetensors";
  dlrt_metadata meta[] = {{"step", "12"}, {"epoch", "2"}};
  ASSERT_EQ(dlrt_save_checkpoint(m_, ckpt.c_str(), meta, 2), DLRT_OK) << dlrt_last_error();
  std::vector<float> zeros(6, 0.0f), back(6);
  ASSERT_EQ(dlrt_set_param(m_, "w", DLRT_F32, zeros.data(), 6), DLRT_OK);
  ASSERT_EQ(dlrt_load_checkpoint(m_, ckpt.c_str()), DLRT_OK) << dlrt_last_error();
  ASSERT_EQ(dlrt_get_param(m_, "w", DLRT_F32, back.data(), 6), DLRT_OK);
  EXPECT_EQ(back, test::tiny_w());
  size_t n = 0;
  ASSERT_EQ(dlrt_checkpoint_meta_count(m_, &n), DLRT_OK);
  ASSERT_EQ(n, 2u);
  const char *key = nullptr, *value = nullptr;
  ASSERT_EQ(dlrt_checkpoint_meta(m_, 0, &key, &value), DLRT_OK);
  EXPECT_STREQ(key, "epoch");
  EXPECT_STREQ(value, "2");
  ASSERT_EQ(dlrt_checkpoint_meta_get(m_, "step", &value), DLRT_OK);
  EXPECT_STREQ(value, "12");
  ASSERT_EQ(dlrt_checkpoint_meta_get(m_, "absent", &value), DLRT_OK);
  EXPECT_EQ(value, nullptr);
}

TEST_F(CApi, LoadErrors) {
  dlrt_model* m = nullptr;
  expect_error(dlrt_model_load("/nonexistent/m.dlc", &m), DLRT_FILE_ERROR, "/nonexistent/m.dlc: cannot open");
  EXPECT_EQ(m, nullptr);
  std::string bad = dir_ + "/bad.dlc";
  std::string bytes = read_file_bytes(path_);
  std::ofstream(bad, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_error(dlrt_model_load(bad.c_str(), &m), DLRT_FILE_ERROR, bad + ": ");
  expect_error(dlrt_model_load(nullptr, &m), DLRT_INVALID_ARGUMENT, "path is NULL");
  expect_error(dlrt_model_load(path_.c_str(), nullptr), DLRT_INVALID_ARGUMENT, "model is NULL");
  dlrt_model_free(nullptr);
}

// An executable in memory runs as its file does; a corrupt one is named by
// the name the caller gave.
TEST_F(CApi, LoadsAnExecutableFromMemory) {
  std::string bytes = read_file_bytes(path_);
  dlrt_model* m = nullptr;
  ASSERT_EQ(dlrt_model_load_buffer(bytes.data(), bytes.size(), "embedded", &m), DLRT_OK) << dlrt_last_error();
  std::vector<float> from_file(8), from_memory(8);
  ASSERT_EQ(predict(kX.data(), 12, from_file.data(), 8), DLRT_OK) << dlrt_last_error();
  std::swap(m, m_);
  ASSERT_EQ(predict(kX.data(), 12, from_memory.data(), 8), DLRT_OK) << dlrt_last_error();
  std::swap(m, m_);
  dlrt_model_free(m);
  EXPECT_EQ(from_file, from_memory);

  m = nullptr;
  expect_error(dlrt_model_load_buffer(bytes.data(), bytes.size() / 2, "embedded", &m), DLRT_FILE_ERROR,
               "embedded: ");
  EXPECT_EQ(m, nullptr);
  expect_error(dlrt_model_load_buffer(nullptr, 10, "embedded", &m), DLRT_INVALID_ARGUMENT, "data is NULL");
  expect_error(dlrt_model_load_buffer(bytes.data(), bytes.size(), nullptr, &m), DLRT_INVALID_ARGUMENT,
               "name is NULL");
}

TEST_F(CApi, UnsupportedTargetIsARuntimeError) {
  std::string p = dir_ + "/cuda.dlc";
  save_executable_atomic(test::tiny_cuda_executable(), p);
  dlrt_model* m = nullptr;
#ifdef DLC_WITH_CUDA
  // This build has the cuda executor; the driver (or its absence) refuses the code.
  EXPECT_EQ(dlrt_model_load(p.c_str(), &m), DLRT_RUNTIME_ERROR) << dlrt_last_error();
#else
  expect_error(dlrt_model_load(p.c_str(), &m), DLRT_RUNTIME_ERROR, "no cuda executor");
#endif
}

TEST_F(CApi, InspectDescribesAFileThisMachineCannotRun) {
  auto exe = test::tiny_cuda_executable();  // no machine runs it; any machine can describe it
  exe.set_gpu_arch("sm_86");
  std::string p = dir_ + "/inspect.dlc";
  save_executable_atomic(exe, p);
  dlrt_model* m = nullptr;
  EXPECT_EQ(dlrt_model_load(p.c_str(), &m), DLRT_RUNTIME_ERROR);
  ASSERT_EQ(dlrt_model_inspect(p.c_str(), &m), DLRT_OK) << dlrt_last_error();
  const char* target = nullptr;
  ASSERT_EQ(dlrt_model_target(m, &target), DLRT_OK);
  EXPECT_STREQ(target, "cuda");
  const char* arch = nullptr;
  ASSERT_EQ(dlrt_model_gpu_arch(m, &arch), DLRT_OK);
  EXPECT_STREQ(arch, "sm_86");
  ASSERT_EQ(dlrt_model_gpu_arch(m_, &arch), DLRT_OK);
  EXPECT_STREQ(arch, "");  // the tiny model is ref
  // The same signature as the runnable tiny model.
  size_t inspected = 0, loaded = 0;
  ASSERT_EQ(dlrt_param_count(m, &inspected), DLRT_OK);
  ASSERT_EQ(dlrt_param_count(m_, &loaded), DLRT_OK);
  EXPECT_EQ(inspected, loaded);
  ASSERT_EQ(dlrt_entry_count(m, &inspected), DLRT_OK);
  ASSERT_EQ(dlrt_entry_count(m_, &loaded), DLRT_OK);
  EXPECT_EQ(inspected, loaded);
  // Running it, or reading its weights, needs an executor.
  std::vector<float> act(8);
  dlrt_input in = {"x", DLRT_F32, kX.data(), 12};
  dlrt_output out = {"act", DLRT_F32, act.data(), 8};
  expect_error(dlrt_run(m, "predict", &in, 1, &out, 1), DLRT_RUNTIME_ERROR, "opened to inspect");
  dlrt_tensor_info info;
  ASSERT_EQ(dlrt_param(m, 0, &info), DLRT_OK);
  std::vector<float> w(static_cast<size_t>(info.numel));
  expect_error(dlrt_get_param(m, info.name, DLRT_F32, w.data(), info.numel), DLRT_RUNTIME_ERROR, "opened to inspect");
  dlrt_model_free(m);
}

TEST_F(CApi, RunChecksInputsAgainstTheSignature) {
  std::vector<float> act(8);
  float lr = 0.1f, step = 1;
  expect_error(dlrt_run(m_, "eval", nullptr, 0, nullptr, 0), DLRT_INVALID_ARGUMENT,
               "has no entry point 'eval' (it has: predict, train_step)");
  expect_error(predict(kX.data(), 11, act.data(), 8), DLRT_INVALID_ARGUMENT,
               "input 'x' of 'predict' is f32[4,3] (12 elements), but 11 elements were given");
  // Each buffer holds what it claims (the runtime copies it before checking the
  // signature): ASan in CI catches a test that reads past its own buffer.
  std::vector<double> x_f64(12);
  dlrt_input wrong_dtype = {"x", DLRT_F64, x_f64.data(), 12};
  dlrt_output out = {"act", DLRT_F32, act.data(), 8};
  expect_error(dlrt_run(m_, "predict", &wrong_dtype, 1, &out, 1), DLRT_INVALID_ARGUMENT,
               "input 'x' of 'predict' is f32[4,3], but a f64 buffer was given");
  dlrt_input unknown = {"z", DLRT_F32, kX.data(), 12};
  expect_error(dlrt_run(m_, "predict", &unknown, 1, &out, 1), DLRT_INVALID_ARGUMENT,
               "entry point 'predict' has no input 'z' (its inputs: x)");
  dlrt_input twice[] = {{"x", DLRT_F32, kX.data(), 12}, {"x", DLRT_F32, kX.data(), 12}};
  expect_error(dlrt_run(m_, "predict", twice, 2, &out, 1), DLRT_INVALID_ARGUMENT, "input 'x' of 'predict' is given twice");
  dlrt_input partial[] = {{"x", DLRT_F32, kX.data(), 12}, {"learning_rate", DLRT_F32, &lr, 1}, {"step", DLRT_F32, &step, 1}};
  expect_error(dlrt_run(m_, "train_step", partial, 3, nullptr, 0), DLRT_INVALID_ARGUMENT,
               "entry point 'train_step' needs input 'y' f32[4,2], not given");
  // 7: no dtype, yet inside the enum's value range (0..7); a C++ load of a value
  // outside it, such as 77, is undefined behaviour that UBSan (CI) stops on.
  dlrt_input bad_dtype_value = {"x", static_cast<dlrt_dtype>(7), kX.data(), 12};
  expect_error(dlrt_run(m_, "predict", &bad_dtype_value, 1, &out, 1), DLRT_INVALID_ARGUMENT, "unknown dtype value 7");
  dlrt_input null_data = {"x", DLRT_F32, nullptr, 12};
  expect_error(dlrt_run(m_, "predict", &null_data, 1, &out, 1), DLRT_INVALID_ARGUMENT, "data is NULL");
  expect_error(dlrt_run(m_, "predict", nullptr, 1, &out, 1), DLRT_INVALID_ARGUMENT, "inputs is NULL");
}

TEST_F(CApi, RunChecksOutputBuffersBeforeRunning) {
  float lr = 0.1f, step = 1, loss = 0;
  dlrt_input in[] = {{"x", DLRT_F32, kX.data(), 12},
                     {"y", DLRT_F32, kY.data(), 8},
                     {"learning_rate", DLRT_F32, &lr, 1},
                     {"step", DLRT_F32, &step, 1}};
  dlrt_output bad[] = {{"loss", DLRT_F32, &loss, 1}, {"act", DLRT_F32, &loss, 1}};
  expect_error(dlrt_run(m_, "train_step", in, 4, bad, 2), DLRT_INVALID_ARGUMENT,
               "output 'act' of 'train_step' is f32[4,2] (8 elements), but the buffer holds 1");
  dlrt_output unknown = {"logits", DLRT_F32, &loss, 1};
  expect_error(dlrt_run(m_, "train_step", in, 4, &unknown, 1), DLRT_INVALID_ARGUMENT,
               "has no output 'logits' (its outputs: loss, act)");
  // Neither failure may have taken a training step.
  std::vector<float> w(6);
  ASSERT_EQ(dlrt_get_param(m_, "w", DLRT_F32, w.data(), 6), DLRT_OK);
  EXPECT_EQ(w, test::tiny_w());
}

TEST_F(CApi, ParameterErrors) {
  std::vector<float> buf(6);
  expect_error(dlrt_get_param(m_, "nope", DLRT_F32, buf.data(), 6), DLRT_INVALID_ARGUMENT,
               "has no parameter or persistent tensor 'nope'");
  expect_error(dlrt_get_param(m_, "w", DLRT_F32, buf.data(), 5), DLRT_INVALID_ARGUMENT,
               "parameter 'w' is f32[3,2] (6 elements), but the buffer holds 5");
  expect_error(dlrt_set_param(m_, "w", DLRT_I32, buf.data(), 6), DLRT_INVALID_ARGUMENT,
               "parameter 'w' is f32[3,2], but a i32 buffer was given");
  std::vector<float> seven(7);  // a buffer as long as the count it is passed with
  expect_error(dlrt_set_param(m_, "w", DLRT_F32, seven.data(), 7), DLRT_INVALID_ARGUMENT,
               "parameter 'w' is f32[3,2] (6 elements), but 7 elements were given");
  dlrt_tensor_info info;
  expect_error(dlrt_param(m_, 3, &info), DLRT_INVALID_ARGUMENT, "parameter index 3 is out of range (there are 3)");
  expect_error(dlrt_model_input(m_, 9, &info), DLRT_INVALID_ARGUMENT, "input index 9 is out of range");
  const char* name = nullptr;
  expect_error(dlrt_entry_name(m_, 2, &name), DLRT_INVALID_ARGUMENT, "entry point index 2 is out of range");
  expect_error(dlrt_model_batch(nullptr, nullptr), DLRT_INVALID_ARGUMENT, "model is NULL");
}

TEST_F(CApi, CheckpointErrorsLeaveTheModelAlone) {
  std::string ckpt = dir_ + "/c.safetensors";
  ASSERT_EQ(dlrt_save_checkpoint(m_, ckpt.c_str(), nullptr, 0), DLRT_OK) << dlrt_last_error();
  std::string bytes = read_file_bytes(ckpt);
  std::string cut = dir_ + "/cut.safetensors";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() - 3);
  std::vector<float> w = {1, 2, 3, 4, 5, 6}, back(6);
  ASSERT_EQ(dlrt_set_param(m_, "w", DLRT_F32, w.data(), 6), DLRT_OK);
  expect_error(dlrt_load_checkpoint(m_, cut.c_str()), DLRT_FILE_ERROR, cut + ": truncated checkpoint");
  expect_error(dlrt_load_checkpoint(m_, "/nonexistent/c.safetensors"), DLRT_FILE_ERROR, "cannot open");
  ASSERT_EQ(dlrt_get_param(m_, "w", DLRT_F32, back.data(), 6), DLRT_OK);
  EXPECT_EQ(back, w);
  dlrt_metadata dup[] = {{"step", "1"}, {"step", "2"}};
  expect_error(dlrt_save_checkpoint(m_, ckpt.c_str(), dup, 2), DLRT_INVALID_ARGUMENT, "metadata key 'step' is given twice");
  dlrt_metadata null_value[] = {{"step", nullptr}};
  expect_error(dlrt_save_checkpoint(m_, ckpt.c_str(), null_value, 1), DLRT_INVALID_ARGUMENT, "NULL key or value");
  expect_error(dlrt_save_checkpoint(m_, (dir_ + "/missing/c.safetensors").c_str(), nullptr, 0), DLRT_FILE_ERROR,
               "cannot create a temporary file");
}

TEST_F(CApi, VerifyFusionNeedsAKernelTarget) {
  // The tiny model is target ref: nothing to verify, said as such.
  expect_error(dlrt_model_verify_fusion(m_, 1e-4), DLRT_INVALID_ARGUMENT, "which runs no kernels");
  expect_error(dlrt_model_verify_fusion(nullptr, 1e-4), DLRT_INVALID_ARGUMENT, "model is NULL");
  const char* report = nullptr;
  ASSERT_EQ(dlrt_model_fusion_report(m_, &report), DLRT_OK);
  EXPECT_STREQ(report, "");
}

TEST_F(CApi, ErrorTextIsPerThreadAndStatusNamesExist) {
  dlrt_model* m = nullptr;
  dlrt_model_load("/nonexistent/a.dlc", &m);
  std::string main_text = dlrt_last_error();
  std::string other_text;
  std::thread([&] {
    other_text = dlrt_last_error();
  }).join();
  EXPECT_NE(main_text, "");
  EXPECT_EQ(other_text, "");
  EXPECT_STREQ(dlrt_status_name(DLRT_FILE_ERROR), "file error");
  EXPECT_STREQ(dlrt_dtype_name(DLRT_I64), "i64");
  EXPECT_EQ(dlrt_dtype_size(DLRT_BOOL), 1u);
  EXPECT_EQ(dlrt_dtype_size(static_cast<dlrt_dtype>(0)), 0u);
  EXPECT_EQ(dlrt_format_version(), kFormatVersion);
}

}  // namespace
}  // namespace dlc
