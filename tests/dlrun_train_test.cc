// End-to-end `dlrun train` and `dlrun eval` on a softmax regression
// compiled for the ref target: learning on real Fashion-MNIST, bit-identical
// resume, and the errors raised before training starts.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include "tests/test_util.h"

namespace dlc {
namespace {

const char* kFashion = "/usr/share/datasets/fashion-mnist";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool have_fashion() {
  struct stat st;
  return stat((std::string(kFashion) + "/train-images-idx3-ubyte.gz").c_str(), &st) == 0;
}

/// The value of "key": in a one-line JSON object; NaN when absent.
double json_number(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return NAN;
  return std::strtod(json.c_str() + at + key.size() + 3, nullptr);
}

class DlrunTrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::temp_dir());
    std::string out;
    int rc = test::run_command(test::tool_path("dlc") + " compile " +
                                   test::source_path("models/softmax_regression.pbtxt") +
                                   " --target ref --batch 64 -o " + model(),
                               &out);
    ASSERT_EQ(rc, 0) << out;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string model() { return *dir_ + "/sr.dlc"; }
  static std::string dlrun(const std::string& args, int* rc) {
    std::string out;
    *rc = test::run_command(test::tool_path("dlrun") + " " + args, &out);
    return out;
  }
  static std::string* dir_;
};
std::string* DlrunTrain::dir_ = nullptr;

// Fashion-MNIST: the first 2000 training images, one epoch (31 updates of
// 64), then the first 500 test images; an untrained model scores 0.1.
TEST_F(DlrunTrain, LearnsFashionMnistSubset) {
  if (!have_fashion()) GTEST_SKIP() << kFashion << " is not installed";
  int rc = 0;
  std::string out = dlrun("train " + model() + " --data " + kFashion +
                              " --epochs 1 --limit-train 2000 --limit-test 500 --json --metrics " + *dir_ +
                              "/metrics.csv",
                          &rc);
  ASSERT_EQ(rc, 0) << out;
  double acc = json_number(out, "test_accuracy");
  EXPECT_GT(acc, 0.6) << out;
  EXPECT_LE(acc, 1.0);
  EXPECT_GT(json_number(out, "test_loss"), 0) << out;
  EXPECT_EQ(json_number(out, "epochs"), 1) << out;
  std::string csv = slurp(*dir_ + "/metrics.csv");
  EXPECT_EQ(csv.rfind("epoch,train_loss,test_loss,test_accuracy,seconds\n1,", 0), 0u) << csv;

  // eval with the trained weights agrees with train's last evaluation.
  out = dlrun("train " + model() + " --data " + kFashion + " --epochs 1 --limit-train 2000 --limit-test 500" +
                  " --checkpoint " + *dir_ + "/sr.safetensors",
              &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("test accuracy: "), std::string::npos) << out;
  std::string eval = dlrun("eval " + model() + " --data " + kFashion + " --limit-test 500 --weights " + *dir_ +
                               "/sr.safetensors --json",
                           &rc);
  ASSERT_EQ(rc, 0) << eval;
  EXPECT_NEAR(json_number(eval, "test_accuracy"), acc, 1e-9) << eval;
  EXPECT_NE(eval.find("\"confusion\":[["), std::string::npos) << eval;
}

// Two epochs in one run and one epoch + a resumed epoch write the same
// weights, optimizer state and metadata, byte for byte (640 training
// images, 10 updates per epoch).
TEST_F(DlrunTrain, ResumeIsBitIdentical) {
  if (!have_fashion()) GTEST_SKIP() << kFashion << " is not installed";
  std::string common = "train " + model() + " --data " + kFashion + " --limit-train 640 --limit-test 64 --seed 5 ";
  int rc = 0;
  std::string out = dlrun(common + "--epochs 2 --checkpoint " + *dir_ + "/full.st", &rc);
  ASSERT_EQ(rc, 0) << out;
  out = dlrun(common + "--epochs 1 --checkpoint " + *dir_ + "/half.st", &rc);
  ASSERT_EQ(rc, 0) << out;
  std::string half = slurp(*dir_ + "/half.st");
  out = dlrun(common + "--epochs 2 --resume " + *dir_ + "/half.st --checkpoint " + *dir_ + "/resumed.st", &rc);
  ASSERT_EQ(rc, 0) << out;
  std::string full = slurp(*dir_ + "/full.st");
  ASSERT_FALSE(full.empty());
  EXPECT_NE(full, half) << "the second epoch changed nothing, so the comparison proves nothing";
  EXPECT_TRUE(full == slurp(*dir_ + "/resumed.st")) << "resumed weights differ from the uninterrupted run's";
}

/// Writes `rows` CSV rows of `cols` zeros and a label file with `labels`.
void write_csv_data(const std::string& dir, int rows, int cols, const std::vector<int>& labels) {
  std::ofstream x(dir + "/x.csv"), y(dir + "/y.csv");
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) x << (c ? ",0" : "0");
    x << "\n";
  }
  for (int v : labels) y << v << "\n";
}

TEST_F(DlrunTrain, RefusesOutOfRangeLabelBeforeTraining) {
  std::vector<int> labels(64, 3);
  labels[17] = 10;  // the model has classes 0..9
  write_csv_data(*dir_, 64, 784, labels);
  std::string files = " --train-x " + *dir_ + "/x.csv --train-y " + *dir_ + "/y.csv --test-x " + *dir_ +
                      "/x.csv --test-y " + *dir_ + "/y.csv";
  int rc = 0;
  std::string out = dlrun("train " + model() + " --epochs 1" + files, &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("y.csv: label 17 is 10"), std::string::npos) << out;
  EXPECT_EQ(out.find("epoch 1/1"), std::string::npos) << "training started: " << out;
}

TEST_F(DlrunTrain, RefusesWrongShapeAndMissingFiles) {
  write_csv_data(*dir_, 64, 100, std::vector<int>(64, 1));
  std::string files = " --train-x " + *dir_ + "/x.csv --train-y " + *dir_ + "/y.csv --test-x " + *dir_ +
                      "/x.csv --test-y " + *dir_ + "/y.csv";
  int rc = 0;
  std::string out = dlrun("train " + model() + " --epochs 1" + files, &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("x.csv: examples of shape 100"), std::string::npos) << out;
  EXPECT_NE(out.find("784"), std::string::npos) << out;

  out = dlrun("train " + model() + " --epochs 1 --data " + *dir_ + "/nowhere", &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("train-images-idx3-ubyte"), std::string::npos) << out;

  out = dlrun("train " + model() + " --data " + *dir_, &rc);
  EXPECT_EQ(rc, 2) << out;  // no --epochs: a usage error
}

}  // namespace
}  // namespace dlc
