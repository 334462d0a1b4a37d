// `dlrun train` and `dlrun eval` on a regression model (a float LABEL
// input): models/linear_regression.pbtxt, compiled by `dlc compile`, trained
// from CSV and from NPY files of real-valued targets, must land on the
// least-squares solution that the test computes from the normal equations,
// and report the mean squared error and R^2 that the test computes from the
// trained weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "runtime/npy.h"
#include "runtime/safetensors.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

constexpr int kFeatures = 3;
/// Training rows; the model is compiled with this batch so each update is a
/// full gradient-descent step on the whole training set, whose only fixed
/// point is the least-squares solution (mini-batches would keep wandering
/// around it by an amount set by the noise and the learning rate).
constexpr int kTrainRows = 256;
/// Test rows: not a multiple of the batch, so evaluation pads its batch and
/// must ignore the padded rows.
constexpr int kTestRows = 100;

/// Rows of features uniform in (-1, 1) and targets <w_true, x> + b_true plus
/// uniform noise, every value rounded to float32 as the model will see it.
struct Data {
  std::vector<float> x;  // rows x kFeatures
  std::vector<float> y;
  int rows() const { return static_cast<int>(y.size()); }
};

Data make_data(int rows, uint32_t seed, double noise) {
  const double w_true[kFeatures] = {1.5, -2.0, 0.75}, b_true = 3.25;
  std::mt19937 gen(seed);  // mt19937's sequence is fixed by the standard
  auto uniform = [&] { return 2.0 * (static_cast<double>(gen()) / 4294967296.0) - 1.0; };
  Data d;
  for (int r = 0; r < rows; ++r) {
    double t = b_true;
    for (int k = 0; k < kFeatures; ++k) {
      float v = static_cast<float>(uniform());
      d.x.push_back(v);
      t += w_true[k] * v;
    }
    d.y.push_back(static_cast<float>(t + noise * uniform()));
  }
  return d;
}

/// %.9g writes a float32 so that reading it back gives the same float.
void write_csv(const Data& d, const std::string& x_path, const std::string& y_path) {
  std::ofstream x(x_path), y(y_path);
  y << "target\n";  // a header line, as exported tables have
  char buf[64];
  for (int r = 0; r < d.rows(); ++r) {
    for (int k = 0; k < kFeatures; ++k) {
      std::snprintf(buf, sizeof buf, "%s%.9g", k ? "," : "", d.x[r * kFeatures + k]);
      x << buf;
    }
    std::snprintf(buf, sizeof buf, "%.9g\n", d.y[r]);
    x << "\n";
    y << buf;
  }
}

void write_npy_files(const Data& d, const std::string& x_path, const std::string& y_path) {
  HostTensor x(TensorType{DType::f32, {d.rows(), kFeatures}});
  for (size_t i = 0; i < d.x.size(); ++i) x.as<float>()[i] = d.x[i];
  // Targets in float64: the loader converts them to the LABEL input's f32.
  HostTensor y(TensorType{DType::f64, {d.rows()}});
  for (int r = 0; r < d.rows(); ++r) y.as<double>()[r] = d.y[r];
  write_npy(x_path, x);
  write_npy(y_path, y);
}

/// The least-squares weights and bias (the last element) from the normal
/// equations A^T A c = A^T y, A = [X 1], by Gaussian elimination with
/// partial pivoting in double.
std::vector<double> normal_equations_solution(const Data& d) {
  constexpr int n = kFeatures + 1;
  double m[n][n + 1] = {};
  for (int r = 0; r < d.rows(); ++r) {
    double a[n];
    for (int k = 0; k < kFeatures; ++k) a[k] = d.x[r * kFeatures + k];
    a[kFeatures] = 1;
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) m[i][j] += a[i] * a[j];
      m[i][n] += a[i] * d.y[r];
    }
  }
  for (int c = 0; c < n; ++c) {
    int pivot = c;
    for (int i = c + 1; i < n; ++i)
      if (std::fabs(m[i][c]) > std::fabs(m[pivot][c])) pivot = i;
    for (int j = 0; j <= n; ++j) std::swap(m[c][j], m[pivot][j]);
    for (int i = 0; i < n; ++i) {
      if (i == c) continue;
      double f = m[i][c] / m[c][c];
      for (int j = c; j <= n; ++j) m[i][j] -= f * m[c][j];
    }
  }
  std::vector<double> sol(n);
  for (int i = 0; i < n; ++i) sol[i] = m[i][n] / m[i][i];
  return sol;
}

/// Mean squared error and R^2 of the predictions <w, x> + b on `d`, in double.
std::pair<double, double> mse_and_r2(const Data& d, const std::vector<double>& w_and_b) {
  double sse = 0, mean = 0, sst = 0;
  for (float v : d.y) mean += v;
  mean /= d.rows();
  for (int r = 0; r < d.rows(); ++r) {
    double p = w_and_b[kFeatures];
    for (int k = 0; k < kFeatures; ++k) p += w_and_b[k] * d.x[r * kFeatures + k];
    sse += (p - d.y[r]) * (p - d.y[r]);
    sst += (d.y[r] - mean) * (d.y[r] - mean);
  }
  return {sse / d.rows(), 1 - sse / sst};
}

/// The value of "key": in a one-line JSON object; NaN when absent.
double json_number(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return NAN;
  return std::strtod(json.c_str() + at + key.size() + 3, nullptr);
}

/// The text of "key":'s value in a one-line JSON object, for messages.
std::string fmt_json(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return "absent";
  size_t begin = at + key.size() + 3;
  return json.substr(begin, json.find_first_of(",}", begin) - begin);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class DlrunRegression : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::temp_dir());
    std::string out;
    int rc = test::run_command(test::tool_path("dlc") + " compile " +
                                   test::source_path("models/linear_regression.pbtxt") + " --target cpu --batch " +
                                   std::to_string(kTrainRows) + " -o " + *dir_ + "/lr.dlc",
                               &out);
    ASSERT_EQ(rc, 0) << out;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string model() { return *dir_ + "/lr.dlc"; }
  static std::string dlrun(const std::string& args, int* rc) {
    std::string out;
    *rc = test::run_command(test::tool_path("dlrun") + " " + args, &out);
    return out;
  }
  /// The checkpoint's w (3x1) and b as {w0, w1, w2, b}.
  static std::vector<double> trained_weights(const std::string& checkpoint) {
    Checkpoint c = load_checkpoint(checkpoint);
    const HostTensor& w = c.tensors.at("w");
    const HostTensor& b = c.tensors.at("b");
    EXPECT_EQ(w.numel(), kFeatures);
    std::vector<double> out;
    for (int k = 0; k < kFeatures; ++k) out.push_back(w.get(k));
    out.push_back(b.get(0));
    return out;
  }

  /// Trains on `train_x/train_y`, evaluating on `test_x/test_y`, and checks
  /// the weights against the normal equations and the reported metrics
  /// against those of the trained weights.
  static void train_and_check(const std::string& files, const Data& train, const Data& test, const std::string& tag) {
    const std::string ckpt = *dir_ + "/" + tag + ".safetensors", metrics = *dir_ + "/" + tag + ".csv";
    int rc = 0;
    // Full-batch gradient descent: with features uniform in (-1,1) the
    // Hessian of the MSE is about (2/3)I for w and 2 for b, so at rate 0.5
    // the error shrinks by about 2/3 per update; 300 updates leave only
    // float32 rounding.
    std::string out = dlrun("train " + model() + files + " --epochs 300 --lr 0.5 --json --checkpoint " + ckpt +
                                " --metrics " + metrics,
                            &rc);
    ASSERT_EQ(rc, 0) << out;

    std::vector<double> want = normal_equations_solution(train);
    std::vector<double> got = trained_weights(ckpt);
    double worst = 0;
    for (int k = 0; k <= kFeatures; ++k) {
      EXPECT_NEAR(got[k], want[k], 1e-4) << (k < kFeatures ? "w" + std::to_string(k) : std::string("b"));
      worst = std::max(worst, std::fabs(got[k] - want[k]));
    }

    // What dlrun reports is what the trained weights give.
    auto [mse, r2] = mse_and_r2(test, got);
    EXPECT_NEAR(json_number(out, "test_mse"), mse, 1e-6 + 1e-4 * mse) << out;
    EXPECT_NEAR(json_number(out, "test_r2"), r2, 1e-5) << out;
    EXPECT_NEAR(json_number(out, "test_loss"), mse, 1e-6 + 1e-4 * mse) << out;
    EXPECT_GT(r2, 0.999) << "the data are nearly noise-free, so a fit should explain almost all variance";
    std::printf("%s: largest |trained - least squares| %.3g; test mse %.6g, r2 %.6f (dlrun: %s, %s)\n", tag.c_str(),
                worst, mse, r2, fmt_json(out, "test_mse").c_str(), fmt_json(out, "test_r2").c_str());
    EXPECT_TRUE(std::isnan(json_number(out, "test_accuracy"))) << "a regression has no accuracy: " << out;
    EXPECT_NE(out.find(", test mse "), std::string::npos) << out;  // the end-of-epoch line
    EXPECT_NE(out.find(", test r2 "), std::string::npos) << out;
    EXPECT_EQ(out.find("accuracy"), std::string::npos) << out;

    std::string csv = slurp(metrics);
    EXPECT_EQ(csv.rfind("epoch,train_loss,test_mse,test_r2,seconds\n1,", 0), 0u) << csv.substr(0, 200);
    size_t last = csv.rfind("\n300,");
    ASSERT_NE(last, std::string::npos) << csv.substr(csv.size() > 200 ? csv.size() - 200 : 0);
    double csv_mse = 0, csv_r2 = 0;
    ASSERT_EQ(std::sscanf(csv.c_str() + last + 1, "300,%*[^,],%lf,%lf", &csv_mse, &csv_r2), 2);
    EXPECT_NEAR(csv_mse, mse, 1e-6 + 1e-4 * mse);
    EXPECT_NEAR(csv_r2, r2, 1e-5);
  }

  static std::string* dir_;
};
std::string* DlrunRegression::dir_ = nullptr;

// Noise of +-0.05 moves the least-squares solution about 5e-3 away from the
// weights the data were made with, 50 times the tolerance: a run that only
// got close to the generating weights, or trained on rounded targets, fails.
TEST_F(DlrunRegression, TrainsFromCsvToTheLeastSquaresSolution) {
  Data train = make_data(kTrainRows, 1, 0.05), test = make_data(kTestRows, 2, 0.05);
  std::vector<double> ls = normal_equations_solution(train);
  ASSERT_GT(std::fabs(ls[0] - 1.5) + std::fabs(ls[1] + 2.0) + std::fabs(ls[2] - 0.75) + std::fabs(ls[3] - 3.25), 1e-3)
      << "the least-squares solution is too close to the generating weights to tell them apart";
  write_csv(train, *dir_ + "/train_x.csv", *dir_ + "/train_y.csv");
  write_csv(test, *dir_ + "/test_x.csv", *dir_ + "/test_y.csv");
  train_and_check(" --train-x " + *dir_ + "/train_x.csv --train-y " + *dir_ + "/train_y.csv --test-x " + *dir_ +
                      "/test_x.csv --test-y " + *dir_ + "/test_y.csv",
                  train, test, "csv");

  // eval of the saved weights reports the same numbers.
  int rc = 0;
  std::string eval = dlrun("eval " + model() + " --test-x " + *dir_ + "/test_x.csv --test-y " + *dir_ +
                               "/test_y.csv --weights " + *dir_ + "/csv.safetensors --json",
                           &rc);
  ASSERT_EQ(rc, 0) << eval;
  auto [mse, r2] = mse_and_r2(test, trained_weights(*dir_ + "/csv.safetensors"));
  EXPECT_NEAR(json_number(eval, "test_mse"), mse, 1e-6 + 1e-4 * mse) << eval;
  EXPECT_NEAR(json_number(eval, "test_r2"), r2, 1e-5) << eval;
  EXPECT_EQ(json_number(eval, "rows"), kTestRows) << eval;
  std::string text = dlrun("eval " + model() + " --test-x " + *dir_ + "/test_x.csv --test-y " + *dir_ +
                               "/test_y.csv --weights " + *dir_ + "/csv.safetensors",
                           &rc);
  ASSERT_EQ(rc, 0) << text;
  EXPECT_NE(text.find("test mse: "), std::string::npos) << text;
  EXPECT_NE(text.find("test r2: "), std::string::npos) << text;
  EXPECT_EQ(text.find("confusion"), std::string::npos) << text;
}

TEST_F(DlrunRegression, TrainsFromNpyToTheLeastSquaresSolution) {
  Data train = make_data(kTrainRows, 3, 0.05), test = make_data(kTestRows, 4, 0.05);
  write_npy_files(train, *dir_ + "/train_x.npy", *dir_ + "/train_y.npy");
  write_npy_files(test, *dir_ + "/test_x.npy", *dir_ + "/test_y.npy");
  train_and_check(" --train-x " + *dir_ + "/train_x.npy --train-y " + *dir_ + "/train_y.npy --test-x " + *dir_ +
                      "/test_x.npy --test-y " + *dir_ + "/test_y.npy",
                  train, test, "npy");
}

// R^2 is relative to the targets' spread: predicting their mean scores 0,
// and an untrained model (all weights 0, predicting 0) scores below that.
TEST_F(DlrunRegression, UntrainedModelScoresBelowZeroR2) {
  Data test = make_data(kTestRows, 5, 0.05);
  write_csv(test, *dir_ + "/u_x.csv", *dir_ + "/u_y.csv");
  int rc = 0;
  std::string out =
      dlrun("eval " + model() + " --test-x " + *dir_ + "/u_x.csv --test-y " + *dir_ + "/u_y.csv --json", &rc);
  ASSERT_EQ(rc, 0) << out;
  auto [mse, r2] = mse_and_r2(test, {0, 0, 0, 0});
  EXPECT_LT(r2, 0);
  EXPECT_NEAR(json_number(out, "test_r2"), r2, 1e-6) << out;
  EXPECT_NEAR(json_number(out, "test_mse"), mse, 1e-6 * mse) << out;
}

// A classifier (integer LABEL input) still refuses a fractional label, with
// the reason; the same CSV trains the regression model.
TEST_F(DlrunRegression, ClassifierStillRefusesFractionalLabels) {
  std::string dir = *dir_;
  std::string out;
  int rc = test::run_command(test::tool_path("dlc") + " compile " +
                                 test::source_path("models/logistic_regression.pbtxt") + " --target cpu --batch 8 -o " +
                                 dir + "/logreg.dlc",
                             &out);
  ASSERT_EQ(rc, 0) << out;
  Data d = make_data(16, 6, 0.05);
  write_csv(d, dir + "/f_x.csv", dir + "/f_y.csv");
  std::string files = " --train-x " + dir + "/f_x.csv --train-y " + dir + "/f_y.csv --test-x " + dir +
                      "/f_x.csv --test-y " + dir + "/f_y.csv";
  out = dlrun("train " + dir + "/logreg.dlc --epochs 1" + files, &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("f_y.csv: label 0 is"), std::string::npos) << out;
  EXPECT_NE(out.find("not a whole number"), std::string::npos) << out;
  out = dlrun("train " + model() + " --epochs 1" + files, &rc);
  EXPECT_EQ(rc, 1) << out;  // 16 rows: fewer than one batch of 256, but the targets were accepted
  EXPECT_NE(out.find("fewer than one batch"), std::string::npos) << out;
}

}  // namespace
}  // namespace dlc
