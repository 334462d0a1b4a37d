#include "runtime/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "ir/error.h"
#include "ir/file_io.h"

namespace dlc {
namespace {

/// Anything larger is not a header we wrote or would want to read.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;
constexpr int kMaxJsonDepth = 16;
constexpr int64_t kMaxElements = int64_t{1} << 40;

struct JsonMember;

/// A parsed JSON value; just enough of JSON for safetensors headers.
struct Json {
  enum Kind { null, boolean, number, string, array, object } kind = null;
  bool b = false;
  bool is_integer = false;
  uint64_t integer = 0;  // valid when is_integer (non-negative integers only)
  std::string str;
  std::vector<Json> items;
  // Not std::pair<std::string, Json>: clang with libstdc++ refuses that pair
  // of a type still being defined (the fuzz build, tests/fuzz/, uses clang).
  std::vector<JsonMember> members;
};

struct JsonMember {
  std::string key;
  Json value;
};

class JsonParser {
 public:
  JsonParser(const std::string& text, const std::string& source) : s_(text), source_(source) {}

  Json parse_document() {
    Json v = parse_value(0);
    skip_space();
    if (pos_ != s_.size()) fail("unexpected text after the JSON header");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(source_ + ": malformed safetensors header: " + what + " at byte " + std::to_string(pos_));
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
  }
  bool consume(const char* word) {
    size_t n = std::strlen(word);
    if (s_.compare(pos_, n, word) != 0) return false;
    pos_ += n;
    return true;
  }

  Json parse_value(int depth) {
    if (depth > kMaxJsonDepth) fail("nesting too deep");
    skip_space();
    Json v;
    char c = peek();
    if (c == '{') {
      v.kind = Json::object;
      ++pos_;
      skip_space();
      if (peek() == '}') {
        ++pos_;
        return v;
      }
      for (;;) {
        skip_space();
        if (peek() != '"') fail("expected a quoted key");
        std::string key = parse_string();
        skip_space();
        if (peek() != ':') fail("expected ':'");
        ++pos_;
        v.members.push_back(JsonMember{std::move(key), parse_value(depth + 1)});
        skip_space();
        if (peek() == ',') { ++pos_; continue; }
        if (peek() == '}') { ++pos_; return v; }
        fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.kind = Json::array;
      ++pos_;
      skip_space();
      if (peek() == ']') {
        ++pos_;
        return v;
      }
      for (;;) {
        v.items.push_back(parse_value(depth + 1));
        skip_space();
        if (peek() == ',') { ++pos_; continue; }
        if (peek() == ']') { ++pos_; return v; }
        fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.kind = Json::string;
      v.str = parse_string();
      return v;
    }
    if (consume("true")) { v.kind = Json::boolean; v.b = true; return v; }
    if (consume("false")) { v.kind = Json::boolean; return v; }
    if (consume("null")) return v;
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
    fail("unexpected character");
  }

  Json parse_number() {
    Json v;
    v.kind = Json::number;
    size_t start = pos_;
    bool negative = peek() == '-';
    if (negative) ++pos_;
    bool overflow = false;
    uint64_t value = 0;
    size_t digits = 0;
    while (peek() >= '0' && peek() <= '9') {
      uint64_t d = static_cast<uint64_t>(peek() - '0');
      if (value > (UINT64_MAX - d) / 10) overflow = true;
      value = value * 10 + d;
      ++pos_;
      ++digits;
    }
    if (digits == 0) fail("malformed number");
    bool fraction = false;
    if (peek() == '.') {
      fraction = true;
      ++pos_;
      while (peek() >= '0' && peek() <= '9') ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      fraction = true;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      while (peek() >= '0' && peek() <= '9') ++pos_;
    }
    if (pos_ == start) fail("malformed number");
    v.is_integer = !negative && !fraction && !overflow;
    v.integer = value;
    return v;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  uint32_t parse_hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<uint32_t>(h - 'A' + 10);
      else fail("bad \\u escape");
    }
    return v;
  }

  std::string parse_string() {
    ++pos_;  // the opening quote
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
      char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated string");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xd800 && cp < 0xdc00 && s_.compare(pos_, 2, "\\u") == 0) {
            pos_ += 2;
            uint32_t low = parse_hex4();
            if (low < 0xdc00 || low >= 0xe000) fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          append_utf8(out, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
  }

  const std::string& s_;
  const std::string& source_;
  size_t pos_ = 0;
};

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::boolean: return "BOOL";
  }
  return "?";
}

bool dtype_from_safetensors(const std::string& s, DType* out) {
  for (DType t : {DType::f32, DType::f64, DType::i32, DType::i64, DType::boolean})
    if (s == safetensors_dtype(t)) {
      *out = t;
      return true;
    }
  return false;
}

/// One tensor's header entry, checked against itself but not yet the data.
struct Entry {
  std::string name;
  TensorType type;
  uint64_t begin = 0, end = 0;
};

Entry parse_entry(const std::string& name, const Json& v, const std::string& source) {
  std::string where = source + ": tensor '" + name + "'";
  if (v.kind != Json::object) throw Error(where + ": header entry is not an object");
  Entry e;
  e.name = name;
  bool have_dtype = false, have_shape = false, have_offsets = false;
  for (const auto& [key, value] : v.members) {
    if (key == "dtype") {
      if (value.kind != Json::string) throw Error(where + ": dtype is not a string");
      if (!dtype_from_safetensors(value.str, &e.type.dtype))
        throw Error(where + ": dtype " + value.str + " is not supported (F32, F64, I32, I64, BOOL)");
      have_dtype = true;
    } else if (key == "shape") {
      if (value.kind != Json::array) throw Error(where + ": shape is not a list");
      int64_t numel = 1;
      for (const auto& d : value.items) {
        if (d.kind != Json::number || !d.is_integer || d.integer > static_cast<uint64_t>(kMaxElements))
          throw Error(where + ": shape holds something other than a dimension");
        int64_t dim = static_cast<int64_t>(d.integer);
        if (dim != 0 && numel > kMaxElements / dim) throw Error(where + ": shape too large");
        numel *= dim;
        e.type.dims.push_back(dim);
      }
      have_shape = true;
    } else if (key == "data_offsets") {
      if (value.kind != Json::array || value.items.size() != 2 || !value.items[0].is_integer ||
          !value.items[1].is_integer)
        throw Error(where + ": data_offsets is not a pair of byte offsets");
      e.begin = value.items[0].integer;
      e.end = value.items[1].integer;
      if (e.begin > e.end) throw Error(where + ": data_offsets end before they begin");
      have_offsets = true;
    } else {
      throw Error(where + ": unknown header field '" + key + "'");
    }
  }
  if (!have_dtype || !have_shape || !have_offsets)
    throw Error(where + ": header entry needs dtype, shape and data_offsets");
  uint64_t want = static_cast<uint64_t>(e.type.numel() * dtype_size(e.type.dtype));
  if (e.end - e.begin != want)
    throw Error(where + ": " + e.type.str() + " needs " + std::to_string(want) + " bytes, data_offsets span " +
                std::to_string(e.end - e.begin));
  return e;
}

}  // namespace

std::string encode_safetensors(const Checkpoint& c) {
  std::string header = "{";
  bool first = true;
  if (!c.metadata.empty()) {
    header += "\"__metadata__\":{";
    for (auto it = c.metadata.begin(); it != c.metadata.end(); ++it) {
      if (it != c.metadata.begin()) header += ",";
      header += json_quote(it->first) + ":" + json_quote(it->second);
    }
    header += "}";
    first = false;
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : c.tensors) {
    if (name == "__metadata__") throw Error("a tensor cannot be called __metadata__");
    if (!first) header += ",";
    first = false;
    header += json_quote(name) + ":{\"dtype\":\"" + safetensors_dtype(t.type.dtype) + "\",\"shape\":[";
    for (size_t i = 0; i < t.type.dims.size(); ++i) header += (i ? "," : "") + std::to_string(t.type.dims[i]);
    uint64_t end = offset + t.bytes.size();
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(end) + "]}";
    offset = end;
  }
  header += "}";
  // Pads with spaces so the data starts 8-byte aligned, as the format recommends.
  header.append((8 - header.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + header.size() + offset);
  for (int i = 0; i < 8; ++i) out += static_cast<char>((static_cast<uint64_t>(header.size()) >> (8 * i)) & 0xff);
  out += header;
  for (const auto& [name, t] : c.tensors) out.append(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  return out;
}

Checkpoint decode_safetensors(const std::string& bytes, const std::string& source) {
  if (bytes.size() < 8)
    throw Error(source + ": truncated checkpoint (" + std::to_string(bytes.size()) +
                " bytes; a safetensors file starts with an 8-byte header length)");
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (header_len > kMaxHeaderBytes)
    throw Error(source + ": not a safetensors checkpoint (header length " + std::to_string(header_len) +
                " is implausible)");
  if (header_len > bytes.size() - 8)
    throw Error(source + ": truncated checkpoint (header of " + std::to_string(header_len) + " bytes, file has " +
                std::to_string(bytes.size()) + ")");
  Json root = JsonParser(bytes.substr(8, header_len), source).parse_document();
  if (root.kind != Json::object) throw Error(source + ": safetensors header is not a JSON object");

  const uint64_t data_size = bytes.size() - 8 - header_len;
  const char* data = bytes.data() + 8 + header_len;
  Checkpoint c;
  std::vector<Entry> entries;
  for (const auto& [key, value] : root.members) {
    if (key == "__metadata__") {
      if (value.kind != Json::object) throw Error(source + ": __metadata__ is not an object");
      for (const auto& [k, v] : value.members) {
        if (v.kind != Json::string) throw Error(source + ": metadata '" + k + "' is not a string");
        c.metadata[k] = v.str;
      }
      continue;
    }
    for (const auto& e : entries)
      if (e.name == key) throw Error(source + ": tensor '" + key + "' appears twice in the header");
    entries.push_back(parse_entry(key, value, source));
  }

  // The tensors must tile the data exactly: no gaps, no overlaps, nothing missing.
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  uint64_t cursor = 0;
  for (const Entry* e : by_offset) {
    if (e->end > data_size)
      throw Error(source + ": truncated checkpoint (tensor '" + e->name + "' needs data bytes up to " +
                  std::to_string(e->end) + ", the file holds " + std::to_string(data_size) + ")");
    if (e->begin != cursor)
      throw Error(source + ": tensor '" + e->name + "' data_offsets " +
                  (e->begin < cursor ? "overlap another tensor" : "leave a gap before it"));
    cursor = e->end;
  }
  if (cursor != data_size)
    throw Error(source + ": checkpoint has " + std::to_string(data_size - cursor) + " bytes after its last tensor");

  for (const auto& e : entries) {
    HostTensor t(e.type);
    // An empty tensor's buffer may be null, and memcpy's never may.
    if (!t.bytes.empty()) std::memcpy(t.bytes.data(), data + e.begin, t.bytes.size());
    c.tensors[e.name] = std::move(t);
  }
  return c;
}

void save_checkpoint(const std::string& path, const Checkpoint& c) { write_file_atomic(path, encode_safetensors(c)); }

Checkpoint load_checkpoint(const std::string& path) { return decode_safetensors(read_file_bytes(path), path); }

}  // namespace dlc
