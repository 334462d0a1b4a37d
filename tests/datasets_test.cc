// Data readers for dlrun train: IDX files (raw and gzipped) written by the
// test itself, refusals of bad magic numbers and truncated files, CSV
// tables and the deterministic shuffle.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <set>

#include "ir/error.h"
#include "runtime/datasets.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

/// IDX bytes: magic 0x0000TTNN, big-endian dims, then `data`.
std::string idx_bytes(int type_code, const std::vector<uint32_t>& dims, const std::string& data) {
  std::string out = {0, 0, static_cast<char>(type_code), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((d >> s) & 0xff);
  return out + data;
}

void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

/// Three 2x2 images with pixels 0, 51, ..., and their labels 2, 0, 1.
std::string images_bytes() {
  std::string px;
  for (int i = 0; i < 12; ++i) px += static_cast<char>(i * 20);
  return idx_bytes(0x08, {3, 2, 2}, px);
}
std::string labels_bytes() { return idx_bytes(0x08, {3}, std::string("\x02\x00\x01", 3)); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Idx, ReadsRawAndGzippedAlike) {
  std::string dir = test::temp_dir();
  write_raw(dir + "/raw", images_bytes());
  write_gz(dir + "/gz", images_bytes());
  for (const char* name : {"/raw", "/gz"}) {
    IdxArray a = read_idx(dir + name);
    EXPECT_EQ(a.dims, (std::vector<int64_t>{3, 2, 2})) << name;
    EXPECT_EQ(a.type_code, 0x08);
    ASSERT_EQ(a.values.size(), 12u);
    EXPECT_EQ(a.values[11], 220.0f);
  }
}

TEST(Idx, ReadsBigEndianWideTypes) {
  std::string dir = test::temp_dir();
  // i32 -2 and 258, big-endian.
  write_raw(dir + "/i32", idx_bytes(0x0C, {2}, std::string("\xff\xff\xff\xfe\x00\x00\x01\x02", 8)));
  IdxArray a = read_idx(dir + "/i32");
  EXPECT_EQ(a.values, (std::vector<float>{-2.0f, 258.0f}));
}

TEST(Idx, MnistSplitScalesPixelsAndFindsGzOrRaw) {
  std::string dir = test::temp_dir();
  write_gz(dir + "/train-images-idx3-ubyte.gz", images_bytes());
  write_raw(dir + "/train-labels-idx1-ubyte", labels_bytes());
  Dataset d = load_mnist_split(dir, "train");
  EXPECT_EQ(d.rows, 3);
  EXPECT_EQ(d.features(), 4);
  EXPECT_FLOAT_EQ(d.x[11], 220.0f / 255.0f);
  EXPECT_EQ(d.y, (std::vector<double>{2, 0, 1}));
  d.limit(2);
  EXPECT_EQ(d.rows, 2);
  EXPECT_EQ(d.x.size(), 8u);
  EXPECT_NE(error_of([&] { load_mnist_split(dir, "t10k"); }).find("t10k-images-idx3-ubyte"), std::string::npos);

  // Reading only the first rows gives the same rows as reading all.
  Dataset first = load_mnist_split(dir, "train", 2);
  EXPECT_EQ(first.rows, 2);
  EXPECT_EQ(first.x, d.x);
  EXPECT_EQ(first.y, d.y);
}

TEST(Idx, RefusesBadMagicNamingTheFile) {
  std::string dir = test::temp_dir();
  write_raw(dir + "/bad", std::string("\x08\x03\x00\x00", 4) + "rest");
  std::string e = error_of([&] { read_idx(dir + "/bad"); });
  EXPECT_NE(e.find(dir + "/bad"), std::string::npos) << e;
  EXPECT_NE(e.find("magic"), std::string::npos) << e;
  write_raw(dir + "/badtype", idx_bytes(0x07, {1}, "x"));
  EXPECT_NE(error_of([&] { read_idx(dir + "/badtype"); }).find("magic"), std::string::npos);
}

TEST(Idx, RefusesTruncatedFiles) {
  std::string dir = test::temp_dir();
  std::string full = images_bytes();
  write_gz(dir + "/short.gz", full.substr(0, full.size() - 1));
  std::string e = error_of([&] { read_idx(dir + "/short.gz"); });
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  write_raw(dir + "/nodims", full.substr(0, 6));
  EXPECT_NE(error_of([&] { read_idx(dir + "/nodims"); }).find("truncated"), std::string::npos);
  EXPECT_NE(error_of([&] { read_idx(dir + "/missing"); }).find("no such file"), std::string::npos);
}

TEST(Idx, RefusesMismatchedRowCounts) {
  std::string dir = test::temp_dir();
  write_raw(dir + "/x", images_bytes());
  write_raw(dir + "/y", idx_bytes(0x08, {2}, std::string("\x00\x01", 2)));
  std::string e = error_of([&] { load_idx_dataset(dir + "/x", dir + "/y"); });
  EXPECT_NE(e.find("3 examples"), std::string::npos) << e;
  // Still caught when only the rows both files have are read.
  e = error_of([&] { load_idx_dataset(dir + "/x", dir + "/y", 2); });
  EXPECT_NE(e.find("3 examples"), std::string::npos) << e;
}

TEST(Csv, ReadsRowsSkippingHeaderAndBlankLines) {
  std::string dir = test::temp_dir();
  write_raw(dir + "/x.csv", "a,b,c\n1,2,3\n\n4, 5.5 ,-6e1\n");
  CsvTable t = read_csv(dir + "/x.csv");
  EXPECT_EQ(t.rows, 2);
  EXPECT_EQ(t.cols, 3);
  EXPECT_EQ(t.values, (std::vector<float>{1, 2, 3, 4, 5.5f, -60}));
}

TEST(Csv, RefusesRaggedRowsAndFractionalLabels) {
  std::string dir = test::temp_dir();
  write_raw(dir + "/ragged.csv", "1,2\n3\n");
  std::string e = error_of([&] { read_csv(dir + "/ragged.csv"); });
  EXPECT_NE(e.find("ragged.csv:2"), std::string::npos) << e;
  write_raw(dir + "/x.csv", "1,2\n3,4\n");
  write_raw(dir + "/y.csv", "1\n0.5\n");
  e = error_of([&] { load_xy_files(dir + "/x.csv", dir + "/y.csv"); });
  EXPECT_NE(e.find("y.csv: label 1"), std::string::npos) << e;
  write_raw(dir + "/y.csv", "1\n0\n");
  Dataset d = load_xy_files(dir + "/x.csv", dir + "/y.csv");
  EXPECT_EQ(d.rows, 2);
  EXPECT_EQ(d.y, (std::vector<double>{1, 0}));
}

// A regression model's targets are real: the fraction that a class index
// refuses is kept (as the float it is read as), a non-finite one is refused.
TEST(Csv, ReadsRealTargetsForRegression) {
  std::string dir = test::temp_dir();
  write_raw(dir + "/x.csv", "1,2\n3,4\n5,6\n");
  write_raw(dir + "/y.csv", "price\n12.930772\n-0.5\n3\n");
  Dataset d = load_xy_files(dir + "/x.csv", dir + "/y.csv", LabelKind::kRealTarget);
  EXPECT_EQ(d.label_kind, LabelKind::kRealTarget);
  EXPECT_EQ(d.y, (std::vector<double>{12.930772f, -0.5, 3}));
  std::string e = error_of([&] { load_xy_files(dir + "/x.csv", dir + "/y.csv"); });
  EXPECT_NE(e.find("y.csv: label 0 is 12.930772, not a whole number"), std::string::npos) << e;
  write_raw(dir + "/y.csv", "1\ninf\n2\n");
  e = error_of([&] { load_xy_files(dir + "/x.csv", dir + "/y.csv", LabelKind::kRealTarget); });
  EXPECT_NE(e.find("y.csv: target 1 is inf, not a finite number"), std::string::npos) << e;
  write_raw(dir + "/y.csv", "1,2\n3,4\n5,6\n");
  e = error_of([&] { load_xy_files(dir + "/x.csv", dir + "/y.csv", LabelKind::kRealTarget); });
  EXPECT_NE(e.find("one value per line"), std::string::npos) << e;
}

TEST(Shuffle, IsADeterministicPermutation) {
  auto a = shuffled_indices(1000, 7);
  EXPECT_EQ(a, shuffled_indices(1000, 7));
  EXPECT_NE(a, shuffled_indices(1000, 8));
  std::set<int64_t> seen(a.begin(), a.end());
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(*seen.begin(), 0);
  EXPECT_EQ(*seen.rbegin(), 999);
}

}  // namespace
}  // namespace dlc
