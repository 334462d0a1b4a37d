#include "runtime/datasets.h"

#include <zlib.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include "ir/error.h"
#include "ir/size_limits.h"
#include "runtime/npy.h"

namespace dlc {
namespace {

/// Closes a gzFile on every path out of read_idx.
struct GzCloser {
  gzFile f;
  ~GzCloser() {
    if (f) gzclose(f);
  }
};

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// Reads exactly `n` bytes or reports how far the file got.
void read_exact(gzFile f, void* out, size_t n, const std::string& path, const char* what) {
  size_t got = 0;
  auto* p = static_cast<unsigned char*>(out);
  while (got < n) {
    unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, 1u << 30));
    int r = gzread(f, p + got, chunk);
    if (r < 0) {
      int err = 0;
      throw Error(path + ": cannot read " + what + ": " + gzerror(f, &err));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  if (got != n)
    throw Error(path + ": truncated: " + what + " needs " + std::to_string(n) + " bytes, the file has " +
                std::to_string(got));
}

/// Reads the `n` bytes an IDX header claims, growing the buffer only as
/// bytes arrive: a gzipped file's decompressed size is unknown up front, so
/// a header that lies costs no more memory than the data really there.
std::vector<unsigned char> read_claimed(gzFile f, size_t n, const std::string& path, const char* what) {
  constexpr size_t kChunk = size_t{16} << 20;
  std::vector<unsigned char> out;
  while (out.size() < n) {
    size_t got = out.size();
    size_t want = std::min(n - got, kChunk);
    allocating(path + ": " + what, static_cast<int64_t>(got + want), [&] { out.resize(got + want); });
    int r = gzread(f, out.data() + got, static_cast<unsigned>(want));
    if (r < 0) {
      int err = 0;
      throw Error(path + ": cannot read " + what + ": " + gzerror(f, &err));
    }
    out.resize(got + static_cast<size_t>(r));
    if (r == 0) break;
  }
  if (out.size() != n)
    throw Error(path + ": truncated: " + what + " needs " + std::to_string(n) + " bytes, the file has " +
                std::to_string(out.size()));
  return out;
}

/// The size of the file at `path` in bytes, or -1.
int64_t file_size(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

size_t element_size(int code) {
  switch (code) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
  }
}

/// Element `i` of big-endian IDX data of type `code`.
float idx_element(const unsigned char* p, int code) {
  switch (code) {
    case 0x08: return static_cast<float>(p[0]);
    case 0x09: return static_cast<float>(static_cast<int8_t>(p[0]));
    case 0x0B: return static_cast<float>(static_cast<int16_t>((p[0] << 8) | p[1]));
    case 0x0C: {
      uint32_t u = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
      return static_cast<float>(static_cast<int32_t>(u));
    }
    case 0x0D: {
      uint32_t u = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
      float f;
      std::memcpy(&f, &u, 4);
      return f;
    }
    default: {
      uint64_t u = 0;
      for (int k = 0; k < 8; ++k) u = (u << 8) | p[k];
      double d;
      std::memcpy(&d, &u, 8);
      return static_cast<float>(d);
    }
  }
}

std::string lower_extension(const std::string& path) {
  size_t dot = path.rfind('.');
  if (dot == std::string::npos || path.find('/', dot) != std::string::npos) return "";
  std::string ext = path.substr(dot + 1);
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

/// Splits a CSV line into numbers; false when a field is not a number.
bool parse_csv_line(const std::string& line, std::vector<float>* out) {
  out->clear();
  std::stringstream ss(line);
  std::string field;
  while (std::getline(ss, field, ',')) {
    size_t b = field.find_first_not_of(" \t\r");
    size_t e = field.find_last_not_of(" \t\r");
    if (b == std::string::npos) return false;
    std::string s = field.substr(b, e - b + 1);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size()) return false;
    out->push_back(static_cast<float>(v));
  }
  return !out->empty();
}

/// Checks a label value against what the model takes: a class index must be
/// whole, a regression target finite. Row numbers count from 0.
double checked_label(double v, LabelKind kind, const std::string& source, int64_t row) {
  if (kind == LabelKind::kRealTarget) {
    if (!std::isfinite(v))
      throw Error(source + ": target " + std::to_string(row) + " is " + std::to_string(v) + ", not a finite number");
    return v;
  }
  if (!std::isfinite(v) || std::trunc(v) != v)
    throw Error(source + ": label " + std::to_string(row) + " is " + std::to_string(v) +
                ", not a whole number (the model's LABEL input is an integer class index)");
  return v;
}

/// Examples from an .npy or CSV file, shaped [rows, ...].
void load_examples(const std::string& path, Dataset* d) {
  if (lower_extension(path) == "npy") {
    HostTensor t = read_npy(path);
    if (t.type.dims.empty()) throw Error(path + ": holds a single value, not rows of examples");
    d->rows = t.type.dims[0];
    d->sample_dims.assign(t.type.dims.begin() + 1, t.type.dims.end());
    check_size(path + ": the examples as floats", saturating_mul(t.numel(), int64_t{sizeof(float)}));
    d->x.resize(static_cast<size_t>(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i) d->x[static_cast<size_t>(i)] = static_cast<float>(t.get(i));
  } else {
    CsvTable t = read_csv(path);
    d->rows = t.rows;
    d->sample_dims = {t.cols};
    d->x = std::move(t.values);
  }
  d->x_source = path;
}

void load_labels(const std::string& path, LabelKind kind, Dataset* d) {
  std::vector<double> values;
  if (lower_extension(path) == "npy") {
    HostTensor t = read_npy(path);
    if (t.type.dims.empty() || t.numel() != t.type.dims[0])
      throw Error(path + ": labels must be one value per row, the file holds " + t.type.str());
    for (int64_t i = 0; i < t.numel(); ++i) values.push_back(t.get(i));
  } else {
    CsvTable t = read_csv(path);
    if (t.cols != 1)
      throw Error(path + ": a label file holds one value per line, this one has " + std::to_string(t.cols) +
                  " values per line");
    values.assign(t.values.begin(), t.values.end());
  }
  d->y.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) d->y[i] = checked_label(values[i], kind, path, static_cast<int64_t>(i));
  d->label_kind = kind;
  d->y_source = path;
}

void check_rows(const Dataset& d) {
  if (static_cast<int64_t>(d.y.size()) != d.rows)
    throw Error(d.x_source + " has " + std::to_string(d.rows) + " examples but " + d.y_source + " has " +
                std::to_string(d.y.size()) + " labels");
}

}  // namespace

IdxArray read_idx(const std::string& path, int64_t max_rows) {
  if (!file_exists(path)) throw Error(path + ": no such file");
  GzCloser f{gzopen(path.c_str(), "rb")};
  if (!f.f) throw Error(path + ": cannot open: " + std::strerror(errno));
  unsigned char magic[4];
  read_exact(f.f, magic, 4, path, "the magic number");
  size_t esize = element_size(magic[2]);
  if (magic[0] != 0 || magic[1] != 0 || esize == 0 || magic[3] == 0) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", magic[0], magic[1], magic[2], magic[3]);
    throw Error(path + ": bad IDX magic number 0x" + hex +
                " (expected 0x0000TTNN: TT the element type 08-0e, NN the number of dimensions)");
  }
  IdxArray a;
  a.type_code = magic[2];
  int64_t total = 1;
  for (int k = 0; k < magic[3]; ++k) {
    unsigned char b[4];
    read_exact(f.f, b, 4, path, "the dimensions");
    int64_t dim = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | b[3];
    a.dims.push_back(dim);
    total = saturating_mul(total, dim);
  }
  a.rows_in_file = a.dims[0];
  if (max_rows >= 0 && max_rows < a.dims[0]) {
    total = a.dims[0] == 0 ? 0 : total / a.dims[0] * max_rows;
    a.dims[0] = max_rows;
  }
  // What the header claims is checked before anything is allocated: against
  // the limit (as raw data and as the floats it becomes), and for a raw file
  // against the bytes the file holds after its header.
  const std::string claim = path + ": the header's " + dims_str(a.dims) + " (" + std::to_string(esize) + "-byte elements)";
  const int64_t raw_bytes = saturating_mul(total, static_cast<int64_t>(esize));
  check_size(claim, raw_bytes);
  check_size(claim + " as floats", saturating_mul(total, int64_t{sizeof(float)}));
  const int64_t header_bytes = 4 + 4 * int64_t{magic[3]};
  if (gzdirect(f.f)) {
    int64_t have = file_size(path) - header_bytes;
    if (have < raw_bytes)
      throw Error(path + ": truncated: the data needs " + std::to_string(raw_bytes) + " bytes, the file has " +
                  std::to_string(std::max<int64_t>(have, 0)));
  }
  std::vector<unsigned char> raw = read_claimed(f.f, static_cast<size_t>(raw_bytes), path, "the data");
  allocating(path + ": the data as floats", total * int64_t{sizeof(float)},
             [&] { a.values.resize(static_cast<size_t>(total)); });
  for (size_t i = 0; i < a.values.size(); ++i) a.values[i] = idx_element(raw.data() + i * esize, a.type_code);
  return a;
}

int64_t Dataset::features() const {
  int64_t n = 1;
  for (int64_t d : sample_dims) n *= d;
  return n;
}

void Dataset::limit(int64_t n) {
  if (n < 0 || n >= rows) return;
  rows = n;
  x.resize(static_cast<size_t>(n * features()));
  y.resize(static_cast<size_t>(n));
}

Dataset load_idx_dataset(const std::string& images, const std::string& labels, int64_t max_rows, LabelKind kind) {
  IdxArray img = read_idx(images, max_rows);
  if (img.dims.empty()) throw Error(images + ": has no example dimension");
  IdxArray lab = read_idx(labels, max_rows);
  if (lab.dims.size() != 1)
    throw Error(labels + ": labels must have one dimension, the file has " + std::to_string(lab.dims.size()));
  Dataset d;
  d.rows = img.dims[0];
  d.sample_dims.assign(img.dims.begin() + 1, img.dims.end());
  d.x = std::move(img.values);
  d.x_source = images;
  d.y_source = labels;
  // Unsigned-byte images are pixels 0..255; the models expect [0,1].
  if (img.type_code == 0x08)
    for (float& v : d.x) v /= 255.0f;
  if (img.rows_in_file != lab.rows_in_file)
    throw Error(images + " has " + std::to_string(img.rows_in_file) + " examples but " + labels + " has " +
                std::to_string(lab.rows_in_file) + " labels");
  d.y.resize(lab.values.size());
  for (size_t i = 0; i < lab.values.size(); ++i)
    d.y[i] = checked_label(lab.values[i], kind, labels, static_cast<int64_t>(i));
  d.label_kind = kind;
  return d;
}

Dataset load_mnist_split(const std::string& dir, const std::string& split, int64_t max_rows, LabelKind kind) {
  auto find = [&](const std::string& base) {
    std::string raw = dir + "/" + base;
    if (file_exists(raw)) return raw;
    if (file_exists(raw + ".gz")) return raw + ".gz";
    throw Error(dir + ": has no " + base + " or " + base + ".gz (expected the MNIST layout)");
  };
  std::string images = find(split + "-images-idx3-ubyte");
  std::string labels = find(split + "-labels-idx1-ubyte");
  return load_idx_dataset(images, labels, max_rows, kind);
}

CsvTable read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  // The file bounds the line buffer; the table is checked as it grows (a
  // float per number of at least two characters, so up to twice the file).
  check_size(path + ": the file", file_size(path));
  const int64_t limit = max_memory_bytes();
  CsvTable t;
  std::string line;
  std::vector<float> row;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (!parse_csv_line(line, &row)) {
      if (t.rows == 0 && line_no == 1) continue;  // a header
      throw Error(path + ":" + std::to_string(line_no) + ": not a row of numbers: " + line.substr(0, 60));
    }
    if (t.rows == 0) t.cols = static_cast<int64_t>(row.size());
    if (static_cast<int64_t>(row.size()) != t.cols)
      throw Error(path + ":" + std::to_string(line_no) + ": " + std::to_string(row.size()) + " values, earlier rows have " +
                  std::to_string(t.cols));
    if (static_cast<int64_t>((t.values.size() + row.size()) * sizeof(float)) > limit)
      check_size(path + ":" + std::to_string(line_no) + ": the table so far as floats",
                 static_cast<int64_t>((t.values.size() + row.size()) * sizeof(float)));
    t.values.insert(t.values.end(), row.begin(), row.end());
    ++t.rows;
  }
  if (t.rows == 0) throw Error(path + ": has no rows of numbers");
  return t;
}

Dataset load_xy_files(const std::string& x_path, const std::string& y_path, LabelKind kind) {
  Dataset d;
  load_examples(x_path, &d);
  load_labels(y_path, kind, &d);
  check_rows(d);
  return d;
}

std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  uint64_t state = seed;
  auto next = [&state] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  for (int64_t i = n - 1; i > 0; --i) {
    // Modulo bias is below 2^-40 for any realistic n; determinism is what matters.
    int64_t j = static_cast<int64_t>(next() % static_cast<uint64_t>(i + 1));
    std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(j)]);
  }
  return idx;
}

}  // namespace dlc
