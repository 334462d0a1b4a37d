#include "runtime/npy.h"

#include <cctype>
#include <cstring>
#include <map>
#include <variant>
#include <vector>

#include "ir/error.h"
#include "ir/file_io.h"
#include "ir/size_limits.h"

namespace dlc {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr int64_t kMaxElements = int64_t{1} << 40;

/// A value of the header's Python literal: a string, a bool, or a tuple of ints.
using HeaderValue = std::variant<std::string, bool, std::vector<int64_t>>;

/// Parses the header, a Python dict literal such as
///   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& source) : s_(text), source_(source) {}

  std::map<std::string, HeaderValue> parse() {
    std::map<std::string, HeaderValue> dict;
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      std::string key = parse_string();
      expect(':');
      dict[key] = parse_value();
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}'");
    }
    ++pos_;
    return dict;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(source_ + ": malformed .npy header (" + what + " at character " + std::to_string(pos_) + ")");
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    size_t end = s_.find(quote, pos_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string v = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return v;
  }
  int64_t parse_int() {
    skip_space();
    size_t start = pos_;
    int64_t v = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      if (v > (kMaxElements - 9) / 10) fail("dimension too large");
      v = v * 10 + (peek() - '0');
      ++pos_;
    }
    if (pos_ == start) fail("expected a non-negative integer");
    if (peek() == 'L') ++pos_;  // Python 2 long literals
    return v;
  }
  HeaderValue parse_value() {
    skip_space();
    char c = peek();
    if (c == '\'' || c == '"') return parse_string();
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    if (c == '(') {
      ++pos_;
      std::vector<int64_t> dims;
      for (;;) {
        skip_space();
        if (peek() == ')') break;
        dims.push_back(parse_int());
        skip_space();
        if (peek() == ',') ++pos_;
        else if (peek() != ')') fail("expected ',' or ')' in the shape");
      }
      ++pos_;
      return dims;
    }
    if (c == '[') fail("structured dtypes are not supported");
    fail("unexpected value");
  }

  const std::string& s_;
  const std::string& source_;
  size_t pos_ = 0;
};

struct DescrInfo {
  DType dtype;
  int64_t item_size;  // bytes per element in the file
  bool widen_u8;      // u1 in the file, i32 in memory
};

DescrInfo parse_descr(const std::string& descr, const std::string& source) {
  if (descr.size() < 2) throw Error(source + ": unsupported .npy dtype '" + descr + "'");
  char order = descr[0];
  std::string kind = descr.substr(1);
  if (order != '<' && order != '|' && order != '=') {
    if (order == '>') throw Error(source + ": big-endian .npy data ('" + descr + "') is not supported; save it little-endian");
    kind = descr;  // e.g. "u1", "b1"
  }
  if (kind == "f4") return {DType::f32, 4, false};
  if (kind == "f8") return {DType::f64, 8, false};
  if (kind == "i4") return {DType::i32, 4, false};
  if (kind == "i8") return {DType::i64, 8, false};
  if (kind == "u1") return {DType::i32, 1, true};
  if (kind == "b1" || kind == "?") return {DType::boolean, 1, false};
  throw Error(source + ": unsupported .npy dtype '" + descr + "' (supported: f4, f8, i4, i8, u1, b1, little-endian)");
}

const char* descr_of(DType t) {
  switch (t) {
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::i32: return "<i4";
    case DType::i64: return "<i8";
    case DType::boolean: return "|b1";
  }
  return "?";
}

uint32_t read_le(const std::string& bytes, size_t at, size_t width) {
  uint32_t v = 0;
  for (size_t i = 0; i < width; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return v;
}

}  // namespace

HostTensor parse_npy(const std::string& bytes, const std::string& source) {
  if (bytes.size() < kMagicLen + 2 || std::memcmp(bytes.data(), kMagic, kMagicLen) != 0)
    throw Error(source + ": not an .npy file (no \\x93NUMPY magic)");
  int major = static_cast<unsigned char>(bytes[6]);
  if (major < 1 || major > 3)
    throw Error(source + ": unsupported .npy format version " + std::to_string(major));
  size_t len_width = major == 1 ? 2 : 4;
  size_t header_start = kMagicLen + 2 + len_width;
  if (bytes.size() < header_start) throw Error(source + ": truncated .npy file (header length missing)");
  size_t header_len = read_le(bytes, kMagicLen + 2, len_width);
  if (bytes.size() < header_start + header_len)
    throw Error(source + ": truncated .npy file (header of " + std::to_string(header_len) + " bytes, file has " +
                std::to_string(bytes.size()) + ")");
  std::string header = bytes.substr(header_start, header_len);
  auto dict = HeaderParser(header, source).parse();

  auto get = [&](const char* key) -> const HeaderValue& {
    auto it = dict.find(key);
    if (it == dict.end()) throw Error(source + ": .npy header lacks '" + key + "'");
    return it->second;
  };
  const auto* descr = std::get_if<std::string>(&get("descr"));
  const auto* fortran = std::get_if<bool>(&get("fortran_order"));
  const auto* shape = std::get_if<std::vector<int64_t>>(&get("shape"));
  if (!descr || !fortran || !shape) throw Error(source + ": malformed .npy header: " + header);
  if (*fortran) throw Error(source + ": .npy data in Fortran order is not supported; save it in C order");
  DescrInfo info = parse_descr(*descr, source);

  int64_t numel = 1;
  for (int64_t d : *shape) {
    if (d != 0 && numel > kMaxElements / d) throw Error(source + ": .npy shape too large");
    numel *= d;
  }
  size_t data_start = header_start + header_len;
  uint64_t want = static_cast<uint64_t>(numel) * static_cast<uint64_t>(info.item_size);
  uint64_t have = bytes.size() - data_start;
  if (have < want)
    throw Error(source + ": truncated .npy file (" + dims_str(*shape) + " " + *descr + " needs " + std::to_string(want) +
                " data bytes, file has " + std::to_string(have) + ")");
  if (have > want)
    throw Error(source + ": .npy file has " + std::to_string(have - want) + " bytes beyond its " + dims_str(*shape) +
                " data");

  // u1 widens to i32: the tensor may be four times the data in the file.
  TensorType type{info.dtype, *shape};
  check_size(source + ": the " + type.str() + " array", type_bytes(type));
  HostTensor t = allocating(source + ": the " + type.str() + " array", type_bytes(type), [&] { return HostTensor(type); });
  const char* data = bytes.data() + data_start;
  if (info.widen_u8) {
    for (int64_t i = 0; i < numel; ++i) t.set(i, static_cast<unsigned char>(data[i]));
  } else if (info.dtype == DType::boolean) {
    for (int64_t i = 0; i < numel; ++i) t.bytes[static_cast<size_t>(i)] = data[i] != 0 ? 1 : 0;
  } else if (want > 0) {  // an empty array's buffer may be null, and memcpy's never may
    std::memcpy(t.bytes.data(), data, static_cast<size_t>(want));
  }
  return t;
}

HostTensor read_npy(const std::string& path) { return parse_npy(read_file_bytes(path), path); }

std::string encode_npy(const HostTensor& t) {
  std::string shape = "(";
  for (size_t i = 0; i < t.type.dims.size(); ++i) {
    shape += std::to_string(t.type.dims[i]);
    if (i + 1 < t.type.dims.size() || t.type.dims.size() == 1) shape += ",";
    if (i + 1 < t.type.dims.size()) shape += " ";
  }
  shape += ")";
  std::string header =
      std::string("{'descr': '") + descr_of(t.type.dtype) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so the data starts 64-byte aligned, as numpy does; a
  // padded header beyond 65535 bytes needs version 2's 4-byte length field.
  auto padded = [&](size_t len_width) {
    size_t total = kMagicLen + 2 + len_width + header.size() + 1;
    return header.size() + (64 - total % 64) % 64 + 1;
  };
  size_t len_width = padded(2) > 65535 ? 4 : 2;
  header.append(padded(len_width) - header.size() - 1, ' ');
  header += '\n';

  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(len_width == 2 ? 1 : 2);
  out += '\0';
  for (size_t i = 0; i < len_width; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  out += header;
  out.append(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  return out;
}

void write_npy(const std::string& path, const HostTensor& t) { write_file_atomic(path, encode_npy(t)); }

}  // namespace dlc
