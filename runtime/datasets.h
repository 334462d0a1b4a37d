// Training data readers for `dlrun train` and `dlrun eval`: IDX files (the
// MNIST format, gzipped or raw), CSV tables and NPY arrays.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dlc {

/// An IDX array: its dimensions and every element converted to float.
struct IdxArray {
  std::vector<int64_t> dims;
  /// The element type code from the magic number (0x08 unsigned byte, 0x09
  /// signed byte, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64).
  int type_code = 0;
  std::vector<float> values;
  /// The first dimension as the file states it (dims[0] may be fewer when
  /// read_idx was asked for fewer rows).
  int64_t rows_in_file = 0;
};

/// Reads an IDX file, gzipped or raw (zlib reads both); with `max_rows` >= 0
/// only the first `max_rows` rows (slices of the first dimension). Throws
/// dlc::Error naming the file for a missing file, a bad magic number or a
/// file that ends before its dimensions say it should.
IdxArray read_idx(const std::string& path, int64_t max_rows = -1);

/// What a label file holds: class indices (whole numbers, for a model whose
/// LABEL input is an integer) or real-valued targets (a float LABEL input:
/// regression).
enum class LabelKind { kClassIndex, kRealTarget };

/// Examples and their labels (class indices or targets), row-major.
struct Dataset {
  int64_t rows = 0;
  /// The shape of one example, e.g. {28, 28}.
  std::vector<int64_t> sample_dims;
  std::vector<float> x;     ///< rows * features() values
  /// rows labels: whole numbers when label_kind is kClassIndex (checked on
  /// loading), any finite values when it is kRealTarget.
  std::vector<double> y;
  LabelKind label_kind = LabelKind::kClassIndex;
  std::string x_source, y_source;  ///< the files they came from, for errors

  int64_t features() const;
  /// Keeps the first `n` rows (no-op when n < 0 or n >= rows).
  void limit(int64_t n);
};

/// Images and labels from two IDX files; unsigned-byte pixels are scaled
/// to [0,1]. Throws when the row counts differ or a label does not fit
/// `kind` (a fraction as a class index, or a value that is not finite).
/// `max_rows` >= 0 reads only that many rows (saves time on subsets).
Dataset load_idx_dataset(const std::string& images, const std::string& labels, int64_t max_rows = -1,
                         LabelKind kind = LabelKind::kClassIndex);

/// `split` ("train" or "t10k") of an MNIST-layout folder: the files
/// SPLIT-images-idx3-ubyte and SPLIT-labels-idx1-ubyte, each optionally .gz.
Dataset load_mnist_split(const std::string& dir, const std::string& split, int64_t max_rows = -1,
                         LabelKind kind = LabelKind::kClassIndex);

/// A CSV file of numbers, one row per line (blank lines skipped).
struct CsvTable {
  int64_t rows = 0, cols = 0;
  std::vector<float> values;
};

/// Reads a numeric CSV file (comma separated; a first line that does not
/// parse as numbers is taken as a header). Throws naming file and line.
CsvTable read_csv(const std::string& path);

/// Examples from `x_path` and labels from `y_path`, each an .npy file or a
/// CSV file (any other extension); a label file has one value per row: a
/// class index (kClassIndex) or a real-valued target (kRealTarget).
/// Values are used as they are (no scaling).
Dataset load_xy_files(const std::string& x_path, const std::string& y_path,
                      LabelKind kind = LabelKind::kClassIndex);

/// Permutation of 0..n-1 from `seed` with a portable generator (splitmix64
/// + Fisher-Yates), so the order is the same on every platform.
std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed);

}  // namespace dlc
