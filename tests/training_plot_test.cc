// Pictures of training runs (runtime/training/training_plot.h): the SVG of
// synthetic histories is well-formed XML (xmllint) with one polyline per
// curve, a point per value, inside its plot area; the metrics CSV reads back
// what run_training writes and refuses what it would not write, naming
// file:line; and `dlrun train --metrics` then `dlrun plot` end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>

#include "ir/error.h"
#include "ir/file_io.h"
#include "runtime/training/training_plot.h"
#include "tests/test_util.h"

namespace dlc {
namespace {


void spit(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// --- reading the SVG back ----------------------------------------------

/// The value of attribute `name` in the tag text `tag`; "" when absent.
std::string attribute(const std::string& tag, const std::string& name) {
  size_t at = tag.find(" " + name + "=\"");
  if (at == std::string::npos) return "";
  at += name.size() + 3;
  return tag.substr(at, tag.find('"', at) - at);
}

struct Area {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

struct Polyline {
  std::vector<std::pair<double, double>> points;
  Area area;  ///< the plot area of the panel it is drawn in
};

/// Every <polyline class="curve NAME"> by NAME (a list, so that a name drawn
/// twice shows), each with the plot area (<rect class="plot-area">) that
/// precedes it: the panel it belongs to.
std::map<std::string, std::vector<Polyline>> curves(const std::string& svg) {
  std::map<std::string, std::vector<Polyline>> out;
  Area area;
  bool have_area = false;
  for (size_t at = svg.find('<'); at != std::string::npos; at = svg.find('<', at + 1)) {
    std::string tag = svg.substr(at, svg.find('>', at) - at);
    if (tag.rfind("<rect ", 0) == 0 && attribute(tag, "class") == "plot-area") {
      double x = std::stod(attribute(tag, "x")), y = std::stod(attribute(tag, "y"));
      area = {x, y, x + std::stod(attribute(tag, "width")), y + std::stod(attribute(tag, "height"))};
      have_area = true;
    }
    if (tag.rfind("<polyline ", 0) != 0) continue;
    std::string cls = attribute(tag, "class");
    EXPECT_EQ(cls.rfind("curve ", 0), 0u) << tag.substr(0, 200);
    EXPECT_TRUE(have_area) << cls << " drawn before any plot area";
    Polyline p;
    p.area = area;
    std::istringstream pts(attribute(tag, "points"));
    std::string pair;
    while (pts >> pair) {
      size_t comma = pair.find(',');
      EXPECT_NE(comma, std::string::npos) << pair;
      p.points.push_back({std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1))});
    }
    out[cls.substr(6)].push_back(p);
  }
  return out;
}

/// xmllint's verdict on `path` ("" when well-formed); python3's xml parser
/// when xmllint is missing.
std::string xml_errors(const std::string& path) {
  std::string out;
  int rc = test::run_command("xmllint --noout " + path, &out);
  if (rc == 127) {
    rc = test::run_command("python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' " + path, &out);
    if (rc == 127) return "neither xmllint (apt-get install libxml2-utils) nor python3 is installed";
  }
  return rc == 0 ? "" : "not well-formed XML (exit " + std::to_string(rc) + "): " + out;
}

/// Writes the plot of `h`, checks it is well-formed, and that it holds
/// exactly the curves in `expected` (name -> points), each one polyline with
/// x increasing and every point inside its plot area. Returns the SVG.
std::string check_plot(const TrainingHistory& h, const std::map<std::string, size_t>& expected,
                       const std::string& title = "a run") {
  const std::string path = test::temp_dir() + "/plot.svg";
  write_training_plot(h, path, title);
  const std::string svg = read_file_bytes(path);
  EXPECT_EQ(xml_errors(path), "") << path;
  auto found = curves(svg);
  std::string names;
  for (const auto& [name, list] : found) names += name + " ";
  EXPECT_EQ(found.size(), expected.size()) << "curves drawn: " << names;
  for (const auto& [name, count] : expected) {
    auto it = found.find(name);
    if (it == found.end()) {
      ADD_FAILURE() << "no polyline for " << name << "; curves drawn: " << names;
      continue;
    }
    if (it->second.size() != 1) {
      ADD_FAILURE() << name << " is drawn " << it->second.size() << " times";
      continue;
    }
    const Polyline& p = it->second[0];
    EXPECT_EQ(p.points.size(), count) << name;
    for (size_t i = 0; i < p.points.size(); ++i) {
      auto [x, y] = p.points[i];
      if (i > 0) {
        EXPECT_GT(x, p.points[i - 1].first) << name << " point " << i;
      }
      EXPECT_TRUE(x >= p.area.x0 && x <= p.area.x1 && y >= p.area.y0 && y <= p.area.y1)
          << name << " point " << i << " (" << x << "," << y << ") is outside the plot area";
    }
  }
  return svg;
}

// --- synthetic histories -----------------------------------------------

/// A classifier's run: losses falling from 2.3 towards 0.5 with a wiggle, accuracy
/// rising; `val` adds validation figures, the best at epoch 3 when the run
/// has epochs 1 to 4 or 3 to 5 (and more).
TrainingHistory classification(int64_t epochs, int64_t steps_per_epoch, bool val, int64_t first_epoch = 0) {
  TrainingHistory h;
  h.task = Task::kClassification;
  h.steps_per_epoch = steps_per_epoch;
  h.first_epoch = first_epoch;
  h.first_step = first_epoch * steps_per_epoch;
  for (int64_t e = first_epoch; e < first_epoch + epochs; ++e) {
    double sum = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      double t = static_cast<double>(e * steps_per_epoch + s);
      double loss = 0.5 + 1.8 * std::exp(-t / 60.0) + 0.05 * std::sin(t * 1.7);
      h.step_losses.push_back(loss);
      sum += loss;
    }
    EpochRecord r;
    r.epoch = e + 1;
    r.train_loss = sum / static_cast<double>(steps_per_epoch);
    r.test.loss = r.train_loss + 0.05;
    r.test.accuracy = 0.9 - 0.5 * std::exp(-static_cast<double>(e));
    r.seconds = 1.5;
    if (val) {
      r.has_val = true;
      r.val.loss = r.test.loss + 0.02 + (e + 1 > 3 ? 0.3 * static_cast<double>(e + 1 - 3) : 0);  // overfits
      r.val.accuracy = r.test.accuracy - 0.01;
    }
    h.epochs.push_back(r);
  }
  h.epochs_done = first_epoch + epochs;
  if (val) h.best_epoch = 3;
  return h;
}

/// A regression whose errors fall over five decades: the log scale.
TrainingHistory regression(int64_t epochs, int64_t steps_per_epoch) {
  TrainingHistory h;
  h.task = Task::kRegression;
  h.steps_per_epoch = steps_per_epoch;
  for (int64_t e = 0; e < epochs; ++e) {
    double sum = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      double loss = 10.0 * std::pow(10.0, -5.0 * static_cast<double>(e * steps_per_epoch + s) /
                                              static_cast<double>(epochs * steps_per_epoch));
      h.step_losses.push_back(loss);
      sum += loss;
    }
    EpochRecord r;
    r.epoch = e + 1;
    r.train_loss = sum / static_cast<double>(steps_per_epoch);
    r.test.task = r.val.task = Task::kRegression;
    r.test.mse = r.test.loss = r.train_loss * 1.1;
    r.test.r2 = 1 - r.test.mse / 4;
    h.epochs.push_back(r);
  }
  return h;
}

TEST(TrainingPlot, ClassificationWithoutValidation) {
  TrainingHistory h = classification(5, 40, false);
  std::string svg = check_plot(h, {{"step-loss", 200}, {"train-loss", 5}, {"test-loss", 5}, {"test-accuracy", 5}});
  EXPECT_NE(svg.find("linear scale"), std::string::npos);  // 0.45 to 2.35: less than a decade
  EXPECT_NE(svg.find("update (40 per epoch)"), std::string::npos);
  EXPECT_EQ(svg.find("best-epoch"), std::string::npos);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  // A marker per epoch on the epoch curves, none on the per-update one.
  size_t at = svg.find("<g class=\"markers train-loss\"");
  ASSERT_NE(at, std::string::npos);
  std::string markers = svg.substr(at, svg.find("</g>", at) - at);
  size_t circles = 0;
  for (size_t i = markers.find("<circle"); i != std::string::npos; i = markers.find("<circle", i + 1)) ++circles;
  EXPECT_EQ(circles, 5u);
  EXPECT_EQ(svg.find("markers step-loss"), std::string::npos);

  // An epoch's figures sit at its last update: the train-loss points share
  // x with the step-loss points of updates 40, 80, ...
  auto c = curves(svg);
  const auto& steps = c["step-loss"][0].points;
  const auto& train = c["train-loss"][0].points;
  for (size_t e = 0; e < train.size(); ++e) EXPECT_NEAR(train[e].first, steps[(e + 1) * 40 - 1].first, 0.011) << e;
  // Higher loss is higher up: the falling epoch losses go down the page.
  for (size_t e = 1; e < train.size(); ++e) EXPECT_GT(train[e].second, train[e - 1].second) << e;
  // The accuracy rises up the page.
  const auto& acc = c["test-accuracy"][0].points;
  for (size_t e = 1; e < acc.size(); ++e) EXPECT_LT(acc[e].second, acc[e - 1].second) << e;
}

TEST(TrainingPlot, ClassificationWithValidation) {
  TrainingHistory h = classification(6, 25, true);
  std::string svg = check_plot(h, {{"step-loss", 150},
                                   {"train-loss", 6},
                                   {"test-loss", 6},
                                   {"val-loss", 6},
                                   {"test-accuracy", 6},
                                   {"val-accuracy", 6}});
  EXPECT_NE(svg.find("class=\"best-epoch\""), std::string::npos);
  EXPECT_NE(svg.find("validation accuracy"), std::string::npos);
}

TEST(TrainingPlot, RegressionUsesMseR2AndLogScale) {
  TrainingHistory h = regression(8, 30);
  std::string svg =
      check_plot(h, {{"step-loss", 240}, {"train-loss", 8}, {"test-mse", 8}, {"test-r2", 8}});
  EXPECT_NE(svg.find("mean squared error, log scale"), std::string::npos);
  EXPECT_NE(svg.find("R\xC2\xB2"), std::string::npos);
  EXPECT_EQ(svg.find("accuracy"), std::string::npos);
}

TEST(TrainingPlot, ResumedRunStartsAtItsFirstUpdate) {
  TrainingHistory h = classification(3, 20, false, /*first_epoch=*/4);
  ASSERT_EQ(h.first_step, 80);
  std::string svg = check_plot(h, {{"step-loss", 60}, {"train-loss", 3}, {"test-loss", 3}, {"test-accuracy", 3}});
  EXPECT_NE(svg.find("resumed after epoch 4"), std::string::npos);
  // The x axis spans this run's updates, 80 to 140: its first update is at
  // the left edge, plus one update's width.
  auto c = curves(svg);
  const Polyline& steps = c["step-loss"][0];
  double per_update = (steps.area.x1 - steps.area.x0) / 60;
  EXPECT_NEAR(steps.points.front().first, steps.area.x0 + per_update, 0.02);
  EXPECT_NEAR(steps.points.back().first, steps.area.x1, 0.02);
}

TEST(TrainingPlot, NonFiniteValuesAreLeftOut) {
  TrainingHistory h = classification(4, 10, true);
  h.step_losses[7] = NAN;
  h.step_losses[12] = INFINITY;
  h.epochs[1].test.loss = NAN;
  h.epochs[2].val.accuracy = NAN;
  check_plot(h, {{"step-loss", 38},
                 {"train-loss", 4},
                 {"test-loss", 3},
                 {"val-loss", 4},
                 {"test-accuracy", 4},
                 {"val-accuracy", 3}});
  // A curve with no finite value has no polyline; its legend entry says so.
  TrainingHistory r = regression(3, 5);
  for (auto& e : r.epochs) e.test.r2 = NAN;
  std::string svg = check_plot(r, {{"step-loss", 15}, {"train-loss", 3}, {"test-mse", 3}});
  EXPECT_NE(svg.find("test R\xC2\xB2 (no finite values)"), std::string::npos);
}

TEST(TrainingPlot, ManyUpdatesAreGroupedPastTwentyThousand) {
  // 20000 updates: one point each. 50001: groups of ceil(50001 / 20000) = 3,
  // so ceil(50001 / 3) = 16667 points.
  check_plot(classification(4, 5000, false), {{"step-loss", 20000}, {"train-loss", 4}, {"test-loss", 4},
                                              {"test-accuracy", 4}});
  TrainingHistory h = classification(1, 50001, false);
  std::string svg = check_plot(h, {{"step-loss", 16667}, {"train-loss", 1}, {"test-loss", 1}, {"test-accuracy", 1}});
  // The last group holds updates 49999..50001 and sits at update 50001: the right edge.
  auto c = curves(svg);
  const Polyline& p = c["step-loss"][0];
  EXPECT_NEAR(p.points.back().first, p.area.x1, 0.011);
}

TEST(TrainingPlot, EpochAxisWithoutStepsPerEpoch) {
  TrainingHistory h = classification(3, 10, false);
  h.steps_per_epoch = 0;  // as read from a metrics CSV: the step losses cannot be placed
  std::string svg = check_plot(h, {{"train-loss", 3}, {"test-loss", 3}, {"test-accuracy", 3}});
  EXPECT_NE(svg.find(">epoch</text>"), std::string::npos);
  EXPECT_EQ(svg.find("update ("), std::string::npos);
}

TEST(TrainingPlot, EmptyHistoryAndOneEpoch) {
  std::string svg = check_plot(TrainingHistory{}, {});
  EXPECT_NE(svg.find("no epochs yet"), std::string::npos);
  TrainingHistory started;  // updates, but no epoch finished
  started.steps_per_epoch = 10;
  started.step_losses = {2.3, 2.1, 1.9};
  check_plot(started, {{"step-loss", 3}});
  check_plot(classification(1, 3, true), {{"step-loss", 3},
                                          {"train-loss", 1},
                                          {"test-loss", 1},
                                          {"val-loss", 1},
                                          {"test-accuracy", 1},
                                          {"val-accuracy", 1}});
}

TEST(TrainingPlot, ExtremeValues) {
  // A range too narrow for its magnitude, values near the ends of double,
  // constant curves and an accuracy of exactly 1: still an axis, every point
  // inside.
  TrainingHistory h = classification(3, 2, false);
  h.step_losses = {1e10, 1e10 + 1e-5, 1e10, 1e10, 1e10 + 2e-5, 1e10};
  for (auto& e : h.epochs) e.train_loss = e.test.loss = 1e10, e.test.accuracy = 1;
  check_plot(h, {{"step-loss", 6}, {"train-loss", 3}, {"test-loss", 3}, {"test-accuracy", 3}});
  h.step_losses = {1e-320, 1e300, 1e-10, 5, 1e200, 0};
  check_plot(h, {{"step-loss", 6}, {"train-loss", 3}, {"test-loss", 3}, {"test-accuracy", 3}});
  TrainingHistory r = regression(2, 2);
  r.epochs[0].test.r2 = -1e300;
  check_plot(r, {{"step-loss", 4}, {"train-loss", 2}, {"test-mse", 2}, {"test-r2", 2}});
}

TEST(TrainingPlot, TitleIsEscaped) {
  // Markup, a control character and bytes that are not UTF-8.
  std::string svg = check_plot(classification(2, 5, false),
                               {{"step-loss", 10}, {"train-loss", 2}, {"test-loss", 2}, {"test-accuracy", 2}},
                               "a <b> & \"c\" 'd'\x01 \xff\xc3(");
  EXPECT_NE(svg.find("<title>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;"), std::string::npos) << svg.substr(0, 600);
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
}

TEST(TrainingPlot, WellFormednessCheckCanFail) {
  // The check the tests above rely on rejects a broken document.
  std::string path = test::temp_dir() + "/broken.svg";
  spit(path, "<svg xmlns=\"http://www.w3.org/2000/svg\"><polyline points=\"1,2\"></svg>\n");
  EXPECT_NE(xml_errors(path), "");
}

TEST(TrainingPlot, WriteErrorNamesThePath) {
  std::string path = test::temp_dir() + "/no/such/folder/p.svg";
  try {
    write_training_plot(classification(1, 2, false), path, "t");
    FAIL() << "wrote into a missing folder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

// --- the metrics CSV ---------------------------------------------------

/// The CSV as run_training writes it (%.6g).
std::string metrics_csv(const TrainingHistory& h) {
  const bool regression = h.task == Task::kRegression, val = !h.epochs.empty() && h.epochs[0].has_val;
  std::string s = regression ? "epoch,train_loss,test_mse,test_r2,seconds"
                             : "epoch,train_loss,test_loss,test_accuracy,seconds";
  if (val) s += regression ? ",val_mse,val_r2" : ",val_loss,val_accuracy";
  s += "\n";
  char buf[256];
  auto pair = [&](const EvalResult& r) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g,%.6g", regression ? r.mse : r.loss, regression ? r.r2 : r.accuracy);
    return std::string(buf);
  };
  for (const EpochRecord& r : h.epochs) {
    std::snprintf(buf, sizeof buf, "%lld,%.6g,", static_cast<long long>(r.epoch), r.train_loss);
    s += buf;
    s += pair(r.test);
    std::snprintf(buf, sizeof buf, ",%.6g", r.seconds);
    s += buf;
    if (val) s += "," + pair(r.val);
    s += "\n";
  }
  return s;
}

/// `v` as the CSV holds it: six significant digits.
double six_digits(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return std::stod(buf);
}

TEST(MetricsCsv, RoundTripClassification) {
  TrainingHistory h = classification(5, 10, true, /*first_epoch=*/2);
  std::string path = test::temp_dir() + "/m.csv";
  spit(path, metrics_csv(h));
  TrainingHistory r = read_metrics_csv(path);
  EXPECT_EQ(r.task, Task::kClassification);
  EXPECT_EQ(r.steps_per_epoch, 0);
  EXPECT_EQ(r.first_epoch, 2);
  EXPECT_EQ(r.epochs_done, 7);
  EXPECT_TRUE(r.step_losses.empty());
  ASSERT_EQ(r.epochs.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    const EpochRecord &a = h.epochs[i], &b = r.epochs[i];
    EXPECT_EQ(b.epoch, a.epoch);
    EXPECT_EQ(b.train_loss, six_digits(a.train_loss));
    EXPECT_EQ(b.test.loss, six_digits(a.test.loss));
    EXPECT_EQ(b.test.accuracy, six_digits(a.test.accuracy));
    EXPECT_EQ(b.seconds, six_digits(a.seconds));
    EXPECT_TRUE(b.has_val);
    EXPECT_EQ(b.val.loss, six_digits(a.val.loss));
    EXPECT_EQ(b.val.accuracy, six_digits(a.val.accuracy));
  }
  EXPECT_EQ(r.best_epoch, 3);  // the lowest validation loss
  EXPECT_EQ(r.final_test.accuracy, r.epochs.back().test.accuracy);
  check_plot(r, {{"train-loss", 5}, {"test-loss", 5}, {"val-loss", 5}, {"test-accuracy", 5}, {"val-accuracy", 5}});
}

TEST(MetricsCsv, RoundTripRegressionWithNan) {
  TrainingHistory h = regression(4, 3);
  h.epochs[1].test.r2 = NAN;  // every test target the same
  std::string path = test::temp_dir() + "/m.csv";
  spit(path, metrics_csv(h));
  TrainingHistory r = read_metrics_csv(path);
  EXPECT_EQ(r.task, Task::kRegression);
  ASSERT_EQ(r.epochs.size(), 4u);
  EXPECT_FALSE(r.epochs[0].has_val);
  EXPECT_EQ(r.epochs[2].test.mse, six_digits(h.epochs[2].test.mse));
  EXPECT_EQ(r.epochs[2].test.loss, r.epochs[2].test.mse);
  EXPECT_EQ(r.epochs[2].test.r2, six_digits(h.epochs[2].test.r2));
  EXPECT_TRUE(std::isnan(r.epochs[1].test.r2));
  check_plot(r, {{"train-loss", 4}, {"test-mse", 4}, {"test-r2", 3}});
}

TEST(MetricsCsv, ErrorsNameFileLineAndValue) {
  const std::string dir = test::temp_dir();
  const std::string header = "epoch,train_loss,test_loss,test_accuracy,seconds\n";
  struct Case {
    std::string text, message;
  };
  const Case cases[] = {
      {header + "1,0.5,0.4,0.8,1\n2,0.4x,0.3,0.85,1\n", "m.csv:3: train_loss: '0.4x' is not a number"},
      {header + "1,0.5,0.4,0.8,1\n2,0.4,0.3,0.85\n", "m.csv:3: 4 fields, the header has 5"},
      {header + "1,0.5,0.4,0.8,1,7\n", "m.csv:2: 6 fields, the header has 5"},
      {"epoch,train_loss,test_loss,accuracy,seconds\n1,0.5,0.4,0.8,1\n",
       "m.csv:1: the header 'epoch,train_loss,test_loss,accuracy,seconds' is not that of dlrun train --metrics"},
      {header + "1,0.5,0.4,1.5,1\n", "m.csv:2: test_accuracy: '1.5' is out of range"},
      {header + "1,-0.5,0.4,0.5,1\n", "m.csv:2: train_loss: '-0.5' is out of range"},
      {header + "1,0.5,0.4,0.5,nan\n", "m.csv:2: seconds: 'nan' is not"},
      {header + "1,0.5,0.4,0.8,1\n3,0.4,0.3,0.85,1\n", "m.csv:3: epoch 3 does not follow epoch 1"},
      {header + "0,0.5,0.4,0.8,1\n", "m.csv:2: epoch: '0' is out of range"},
      {header + "1,0.5,0.4,0.8,1\n\n2,0.4,0.3,0.85,1\n", "m.csv:3: an empty line"},
      {header + "1, 0.5,0.4,0.8,1\n", "m.csv:2: train_loss: ' 0.5' is not a number"},
      {"", "m.csv: empty"},
  };
  for (const Case& c : cases) {
    std::string path = dir + "/m.csv";
    spit(path, c.text);
    try {
      read_metrics_csv(path);
      ADD_FAILURE() << "accepted:\n" << c.text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(dir + "/" + c.message), std::string::npos)
          << "got: " << e.what() << "\nwanted: " << c.message;
    }
  }
  try {
    read_metrics_csv(dir + "/missing.csv");
    ADD_FAILURE() << "read a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/missing.csv"), std::string::npos) << e.what();
  }
}

// --- dlrun train --metrics, then dlrun plot ----------------------------

const char* kFashion = "/usr/share/datasets/fashion-mnist";

bool have_fashion() {
  struct stat st;
  return stat((std::string(kFashion) + "/train-images-idx3-ubyte.gz").c_str(), &st) == 0;
}

std::string run(const std::string& cmd, int* rc) {
  std::string out;
  *rc = test::run_command(cmd, &out);
  return out;
}

TEST(DlrunPlot, TrainThenPlotClassifier) {
  if (!have_fashion()) GTEST_SKIP() << kFashion << " is not installed";
  const std::string dir = test::temp_dir();
  int rc = 0;
  std::string out = run(test::tool_path("dlc") + " compile " + test::source_path("models/softmax_regression.pbtxt") +
                            " --target ref --batch 64 -o " + dir + "/sr.dlc",
                        &rc);
  ASSERT_EQ(rc, 0) << out;
  out = run(test::tool_path("dlrun") + " train " + dir + "/sr.dlc --data " + kFashion +
                " --epochs 3 --limit-train 640 --limit-test 200 --val-split 0.2 --metrics " + dir + "/m.csv",
            &rc);
  ASSERT_EQ(rc, 0) << out;
  out = run(test::tool_path("dlrun") + " plot " + dir + "/m.csv -o " + dir + "/p.svg --title 'softmax & co'", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("3 epochs"), std::string::npos) << out;
  std::string svg = read_file_bytes(dir + "/p.svg");
  EXPECT_EQ(xml_errors(dir + "/p.svg"), "");
  auto c = curves(svg);
  for (const char* name : {"train-loss", "test-loss", "test-accuracy", "val-loss", "val-accuracy"}) {
    ASSERT_EQ(c[name].size(), 1u) << name;
    EXPECT_EQ(c[name][0].points.size(), 3u) << name;
  }
  EXPECT_EQ(c.count("step-loss"), 0u);
  EXPECT_NE(svg.find("softmax &amp; co"), std::string::npos);
}

TEST(DlrunPlot, UsageErrors) {
  const std::string dir = test::temp_dir();
  spit(dir + "/m.csv", "epoch,train_loss,test_mse,test_r2,seconds\n1,0.5,0.4,0.8,1\n");
  int rc = 0;
  std::string out = run(test::tool_path("dlrun") + " plot --help", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("usage: dlrun plot"), std::string::npos) << out;
  out = run(test::tool_path("dlrun") + " plot " + dir + "/m.csv", &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("needs METRICS.csv and -o FILE.svg"), std::string::npos) << out;
  out = run(test::tool_path("dlrun") + " plot " + dir + "/m.csv -o " + dir + "/p.svg --colour red", &rc);
  EXPECT_EQ(rc, 2) << out;
  out = run(test::tool_path("dlrun") + " plot " + dir + "/missing.csv -o " + dir + "/p.svg", &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find(dir + "/missing.csv"), std::string::npos) << out;
  out = run(test::tool_path("dlrun") + " plot " + dir + "/m.csv --output=" + dir + "/p.svg", &rc);
  EXPECT_EQ(rc, 0) << out;
  std::string svg = read_file_bytes(dir + "/p.svg");
  EXPECT_NE(svg.find("class=\"curve test-r2\""), std::string::npos);
  EXPECT_NE(svg.find(">m.csv</text>"), std::string::npos);  // the default title
}

}  // namespace
}  // namespace dlc
