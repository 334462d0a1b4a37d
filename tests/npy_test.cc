// .npy reading and writing: round trips, numpy's exact bytes, and every
// refusal naming the file.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "ir/error.h"
#include "runtime/npy.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

/// What `np.save` writes for np.arange(6, dtype=np.float32).reshape(2, 3):
/// a version 1.0 header padded with spaces so the data starts at a multiple
/// of 64 bytes (here 128).
std::string numpy_golden_f32_2x3() {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  header.append(128 - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  for (int i = 0; i < 6; ++i) {
    float v = static_cast<float>(i);
    out.append(reinterpret_cast<const char*>(&v), 4);
  }
  return out;
}

/// An .npy file with the given raw header dict and data bytes.
std::string npy_with(const std::string& dict, const std::string& data, int version = 1) {
  std::string header = dict + "\n";
  std::string out = std::string("\x93NUMPY", 6);
  out += static_cast<char>(version);
  out += '\0';
  size_t width = version == 1 ? 2 : 4;
  for (size_t i = 0; i < width; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string error_of(const std::string& bytes) {
  try {
    parse_npy(bytes, "x.npy");
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

#define EXPECT_NPY_ERROR(bytes, text)                                   \
  do {                                                                  \
    std::string msg = error_of(bytes);                                  \
    EXPECT_NE(msg.find(text), std::string::npos) << "message: " << msg; \
    EXPECT_EQ(msg.rfind("x.npy: ", 0), 0u) << msg;                      \
  } while (0)

TEST(Npy, EncodesExactlyAsNumpyDoes) {
  HostTensor t(TensorType{DType::f32, {2, 3}});
  for (int i = 0; i < 6; ++i) t.set(i, i);
  EXPECT_EQ(encode_npy(t), numpy_golden_f32_2x3());
}

TEST(Npy, ReadsNumpysBytes) {
  HostTensor t = parse_npy(numpy_golden_f32_2x3(), "x.npy");
  EXPECT_EQ(t.type, (TensorType{DType::f32, {2, 3}}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.get(i), i);
}

TEST(Npy, RoundTripsEveryDtypeAndRankThroughAFile) {
  std::string dir = test::temp_dir();
  std::mt19937_64 rng(3);
  for (DType d : {DType::f32, DType::f64, DType::i32, DType::i64, DType::boolean})
    for (const std::vector<int64_t>& dims :
         std::vector<std::vector<int64_t>>{{}, {1}, {7}, {3, 5}, {2, 3, 4}, {0, 4}}) {
      HostTensor t(TensorType{d, dims});
      for (int64_t i = 0; i < t.numel(); ++i) t.set(i, d == DType::boolean ? rng() % 2 : double(int64_t(rng() % 2001) - 1000) / (is_float(d) ? 7 : 1));
      std::string path = dir + "/t.npy";
      write_npy(path, t);
      HostTensor back = read_npy(path);
      EXPECT_EQ(back.type, t.type) << t.type.str();
      EXPECT_EQ(back.bytes, t.bytes) << t.type.str();
    }
}

TEST(Npy, DataStartsAligned) {
  for (int rank = 0; rank < 6; ++rank) {
    HostTensor t(TensorType{DType::f64, std::vector<int64_t>(static_cast<size_t>(rank), 2)});
    std::string bytes = encode_npy(t);
    EXPECT_EQ((bytes.size() - t.bytes.size()) % 64, 0u) << rank;
  }
}

TEST(Npy, BigArraysUseVersion2Headers) {
  // A header longer than 65535 bytes needs the version 2 length field; a
  // shape of many dims produces one.
  HostTensor t(TensorType{DType::f32, std::vector<int64_t>(25000, 1)});
  std::string bytes = encode_npy(t);
  EXPECT_EQ(bytes[6], 2);
  EXPECT_EQ((bytes.size() - t.bytes.size()) % 64, 0u);
  HostTensor back = parse_npy(bytes, "big.npy");
  EXPECT_EQ(back.type, t.type);
}

TEST(Npy, ReadsVersion2AndNativeOrderAndPython2Longs) {
  float v[2] = {1.5f, -2};
  std::string data(reinterpret_cast<const char*>(v), 8);
  HostTensor t = parse_npy(npy_with("{'descr': '=f4', 'fortran_order': False, 'shape': (2L,), }", data, 2), "x.npy");
  EXPECT_EQ(t.type, (TensorType{DType::f32, {2}}));
  EXPECT_EQ(t.get(0), 1.5);
  EXPECT_EQ(t.get(1), -2);
}

TEST(Npy, UnsignedBytesWidenToI32) {
  std::string data = {'\x00', '\x7f', '\xff'};
  HostTensor t = parse_npy(npy_with("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", data), "x.npy");
  EXPECT_EQ(t.type, (TensorType{DType::i32, {3}}));
  EXPECT_EQ(t.get(0), 0);
  EXPECT_EQ(t.get(1), 127);
  EXPECT_EQ(t.get(2), 255);
}

TEST(Npy, BoolsNormalizeToZeroOne) {
  std::string data = {'\x00', '\x02'};
  HostTensor t = parse_npy(npy_with("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", data), "x.npy");
  EXPECT_EQ(t.bytes, (std::vector<uint8_t>{0, 1}));
}

TEST(Npy, FortranOrderIsRefused) {
  EXPECT_NPY_ERROR(npy_with("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", std::string(4, '\0')),
                   "Fortran order is not supported");
}

TEST(Npy, BigEndianIsRefused) {
  EXPECT_NPY_ERROR(npy_with("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0')),
                   "big-endian");
}

TEST(Npy, UnsupportedDtypeIsRefused) {
  EXPECT_NPY_ERROR(npy_with("{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", std::string(2, '\0')),
                   "unsupported .npy dtype '<f2'");
  EXPECT_NPY_ERROR(npy_with("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", ""),
                   "structured dtypes are not supported");
}

TEST(Npy, BadMagicIsRefused) { EXPECT_NPY_ERROR(std::string("PK\x03\x04 not npy at all"), "not an .npy file"); }

TEST(Npy, MissingKeyIsRefused) {
  EXPECT_NPY_ERROR(npy_with("{'descr': '<f4', 'fortran_order': False, }", ""), "lacks 'shape'");
}

TEST(Npy, MalformedHeaderIsRefused) {
  EXPECT_NPY_ERROR(npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1,2 }", ""), "malformed .npy header");
  EXPECT_NPY_ERROR(npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", ""), "malformed .npy header");
}

TEST(Npy, TruncatedDataIsRefused) {
  std::string bytes = numpy_golden_f32_2x3();
  EXPECT_NPY_ERROR(bytes.substr(0, bytes.size() - 1), "truncated .npy file ([2,3] <f4 needs 24 data bytes, file has 23)");
}

TEST(Npy, TrailingBytesAreRefused) { EXPECT_NPY_ERROR(numpy_golden_f32_2x3() + "xx", "2 bytes beyond"); }

TEST(Npy, EveryTruncationIsAnError) {
  std::string bytes = numpy_golden_f32_2x3();
  for (size_t n = 0; n < bytes.size(); ++n) EXPECT_THROW(parse_npy(bytes.substr(0, n), "x.npy"), Error) << n;
}

TEST(Npy, RandomHeadersNeverCrash) {
  std::mt19937_64 rng(4);
  for (int trial = 0; trial < 500; ++trial) {
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    bytes.append(rng() % 300, '\0');
    for (size_t i = 8; i < bytes.size(); ++i) bytes[i] = static_cast<char>(rng());
    try {
      parse_npy(bytes, "x.npy");
    } catch (const Error&) {
    }
  }
}

TEST(Npy, MissingFileNamesIt) {
  try {
    read_npy("/nonexistent/x.npy");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.npy: cannot open"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dlc
