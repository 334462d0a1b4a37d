// Checkpoints: the safetensors encoding, its validation, atomic writes, and
// save/restore through a Session (bit-exact, and resuming bit-identically).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <dirent.h>
#include <sys/stat.h>
#include <fstream>
#include <limits>
#include <random>

#include "ir/error.h"
#include "ir/file_io.h"
#include "runtime/safetensors.h"
#include "runtime/session.h"
#include "tests/runtime_test_util.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

using test::host_f32;

Checkpoint sample_checkpoint() {
  Checkpoint c;
  HostTensor f(TensorType{DType::f32, {2, 3}});
  const float specials[] = {0.0f, -0.0f, std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::infinity(),
                            1.0f / 3, std::numeric_limits<float>::quiet_NaN()};
  std::memcpy(f.bytes.data(), specials, sizeof specials);
  f.bytes[20] ^= 0x5a;  // a NaN with an unusual payload must survive too
  c.tensors["layer.w"] = f;
  HostTensor d(TensorType{DType::f64, {}});
  d.set(0, M_PI);
  c.tensors["scalar"] = d;
  HostTensor i(TensorType{DType::i64, {3}});
  i.set(0, -5);
  i.set(1, 1ll << 40);
  c.tensors["count"] = i;
  HostTensor b(TensorType{DType::boolean, {2}});
  b.set(1, 1);
  c.tensors["mask"] = b;
  c.tensors["i32"] = HostTensor(TensorType{DType::i32, {0}});
  c.metadata["step"] = "1200";
  c.metadata["epoch"] = "3";
  c.metadata["note \"quoted\""] = "line\nbreak\ttab \\ caf\xc3\xa9";
  return c;
}

void expect_same(const Checkpoint& a, const Checkpoint& b) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    ASSERT_TRUE(b.tensors.count(name)) << name;
    EXPECT_EQ(b.tensors.at(name).type, t.type) << name;
    EXPECT_EQ(b.tensors.at(name).bytes, t.bytes) << name;
  }
  EXPECT_EQ(a.metadata, b.metadata);
}

std::string error_of(const std::string& bytes) {
  try {
    decode_safetensors(bytes, "c.safetensors");
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

/// A safetensors file with the given JSON header and data.
std::string file_with(const std::string& header, const std::string& data) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

#define EXPECT_CKPT_ERROR(bytes, text)                                  \
  do {                                                                  \
    std::string msg = error_of(bytes);                                  \
    EXPECT_NE(msg.find(text), std::string::npos) << "message: " << msg; \
    EXPECT_EQ(msg.rfind("c.safetensors: ", 0), 0u) << msg;              \
  } while (0)

TEST(Safetensors, RoundTripIsBitExact) {
  Checkpoint c = sample_checkpoint();
  expect_same(c, decode_safetensors(encode_safetensors(c), "c"));
}

TEST(Safetensors, LayoutFollowsTheFormat) {
  Checkpoint c;
  c.tensors["b"] = host_f32({2}, {1, 2});
  c.tensors["a"] = host_f32({1}, {3});
  c.metadata["step"] = "7";
  std::string bytes = encode_safetensors(c);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);  // data 8-byte aligned
  std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.substr(0, header.find_last_not_of(' ') + 1),
            "{\"__metadata__\":{\"step\":\"7\"},"
            "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}");
  EXPECT_EQ(bytes.size(), 8 + n + 12);
}

TEST(Safetensors, ReadsFilesFromOtherWriters) {
  // Another writer's order, spacing, escapes and offsets: data for "w" comes
  // after "b" although "w" is listed first.
  float w[2] = {0.5f, -1}, b[1] = {2};
  std::string data(reinterpret_cast<const char*>(b), 4);
  data.append(reinterpret_cast<const char*>(w), 8);
  std::string header =
      "{ \"w\" : {\"dtype\": \"F32\", \"shape\": [1, 2], \"data_offsets\": [4, 12]},\n"
      "  \"__metadata__\": {\"format\": \"pt\", \"na\\u00efve\": \"\\ud83d\\ude00\"},\n"
      "  \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]} }    ";
  Checkpoint c = decode_safetensors(file_with(header, data), "c");
  EXPECT_EQ(c.tensors.at("w").type, (TensorType{DType::f32, {1, 2}}));
  EXPECT_EQ(c.tensors.at("w").get(1), -1);
  EXPECT_EQ(c.tensors.at("b").get(0), 2);
  EXPECT_EQ(c.metadata.at("format"), "pt");
  EXPECT_EQ(c.metadata.at("na\xc3\xafve"), "\xf0\x9f\x98\x80");
}

TEST(Safetensors, EveryTruncationIsRefused) {
  std::string bytes = encode_safetensors(sample_checkpoint());
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string msg = error_of(bytes.substr(0, n));
    EXPECT_FALSE(msg.empty()) << "prefix of " << n << " bytes was accepted";
  }
  EXPECT_CKPT_ERROR(bytes.substr(0, 5), "truncated checkpoint");
  EXPECT_CKPT_ERROR(bytes.substr(0, 40), "truncated checkpoint (header of");
  EXPECT_CKPT_ERROR(bytes.substr(0, bytes.size() - 1), "truncated checkpoint (tensor");
}

TEST(Safetensors, ValidationFaults) {
  std::string four(4, '\0');
  EXPECT_CKPT_ERROR(file_with("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", four),
                    "tensor 'a': dtype F16 is not supported");
  EXPECT_CKPT_ERROR(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", four),
                    "tensor 'a': f32[2] needs 8 bytes, data_offsets span 4");
  EXPECT_CKPT_ERROR(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", four + four),
                    "leave a gap");
  EXPECT_CKPT_ERROR(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                              four),
                    "overlap");
  EXPECT_CKPT_ERROR(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", four + "x"),
                    "1 bytes after its last tensor");
  EXPECT_CKPT_ERROR(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", four),
                    "needs dtype, shape and data_offsets");
  EXPECT_CKPT_ERROR(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", four),
                    "shape holds something other than a dimension");
  EXPECT_CKPT_ERROR(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                              four),
                    "appears twice");
  EXPECT_CKPT_ERROR(file_with("{\"__metadata__\":{\"step\":3}}", ""), "metadata 'step' is not a string");
  EXPECT_CKPT_ERROR(file_with("[1,2]", ""), "header is not a JSON object");
  EXPECT_CKPT_ERROR(file_with("{\"a\":", ""), "malformed safetensors header");
  EXPECT_CKPT_ERROR(file_with(std::string(40, '[') + std::string(40, ']'), ""), "nesting too deep");
  EXPECT_CKPT_ERROR(std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8) + "{}", "implausible");
}

TEST(Safetensors, RandomBytesNeverCrash) {
  std::string good = encode_safetensors(sample_checkpoint());
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bytes = good;
    for (int f = 0; f < 2; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    try {
      decode_safetensors(bytes, "c");
    } catch (const Error&) {
    }
  }
}

/// Names in `dir`, to find stray temporary files.
std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    closedir(d);
  }
  return names;
}

TEST(Checkpoint, AtomicSaveReplacesAndLeavesNoTemporaries) {
  std::string dir = test::temp_dir();
  std::string path = dir + "/c.safetensors";
  Checkpoint first = sample_checkpoint();
  save_checkpoint(path, first);
  Checkpoint second;
  second.tensors["x"] = host_f32({1}, {42});
  save_checkpoint(path, second);
  expect_same(second, load_checkpoint(path));
  EXPECT_EQ(files_in(dir), std::vector<std::string>{"c.safetensors"});
}

TEST(Checkpoint, FailedSaveLeavesThePreviousFileIntact) {
  std::string dir = test::temp_dir();
  std::string path = dir + "/c.safetensors";
  save_checkpoint(path, sample_checkpoint());
  std::string before = read_file_bytes(path);
  // A tensor name the format reserves makes encoding fail before any write;
  // a path whose folder is missing fails at the temporary file.
  Checkpoint bad;
  bad.tensors["__metadata__"] = host_f32({1}, {1});
  EXPECT_THROW(save_checkpoint(path, bad), Error);
  EXPECT_THROW(save_checkpoint(dir + "/missing/c.safetensors", sample_checkpoint()), Error);
  EXPECT_EQ(read_file_bytes(path), before);
  EXPECT_EQ(files_in(dir), std::vector<std::string>{"c.safetensors"});
}

// A run killed between mkstemp and rename leaves PATH.tmp.XXXXXX behind;
// nothing else would ever remove it. Only this path's six-character
// temporaries go: not another file's, not a longer name, not a folder.
TEST(Checkpoint, StaleTemporariesOfThePathAreRemovedAndNothingElse) {
  std::string dir = test::temp_dir();
  std::string path = dir + "/c.safetensors";
  for (const char* name : {"c.safetensors.tmp.a1B2c3", "c.safetensors.tmp.zzzzzz", "c.safetensors.tmp.long123",
                           "d.safetensors.tmp.a1B2c3", "c.safetensors"})
    std::ofstream(dir + "/" + name) << "x";
  mkdir((dir + "/c.safetensors.tmp.folder").c_str(), 0755);
  std::vector<std::string> removed = remove_stale_temporaries(path);
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<std::string>{path + ".tmp.a1B2c3", path + ".tmp.zzzzzz"}));
  std::vector<std::string> left = files_in(dir);
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"c.safetensors", "c.safetensors.tmp.folder",
                                                     "c.safetensors.tmp.long123", "d.safetensors.tmp.a1B2c3"}));
}

// Checked before a long run: a missing folder or a folder in the file's
// place is an error naming the path; a writable path is left as it was.
TEST(Checkpoint, WritableCheckNamesThePathAndLeavesNothingBehind) {
  std::string dir = test::temp_dir();
  check_writable_atomically(dir + "/new.safetensors");
  EXPECT_TRUE(files_in(dir).empty());
  for (const std::string& bad : {dir + "/missing/c.safetensors", dir}) {
    try {
      check_writable_atomically(bad);
      ADD_FAILURE() << bad << " was taken as writable";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(bad + ": ", 0), 0u) << e.what();
    }
  }
}

TEST(Checkpoint, TruncatedFileIsRefusedAndTheGoodOneStillLoads) {
  std::string dir = test::temp_dir();
  std::string good = dir + "/good.safetensors", cut = dir + "/cut.safetensors";
  save_checkpoint(good, sample_checkpoint());
  std::string bytes = read_file_bytes(good);
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  try {
    load_checkpoint(cut);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(cut + ": truncated checkpoint"), std::string::npos) << e.what();
  }
  expect_same(sample_checkpoint(), load_checkpoint(good));
}

// --- Through a Session --------------------------------------------------

const std::vector<float> kX = {1, 2, 3, -1, 0.5f, 2, 0, 0, 0, 4, -3, 1};
const std::vector<float> kY = {1, 0, 0, 1, 0.5f, 0.5f, -1, 2};

void train(Session& s, int from_step, int to_step) {
  for (int step = from_step; step <= to_step; ++step)
    s.run("train_step",
          {{"x", host_f32({4, 3}, kX)},
           {"y", host_f32({4, 2}, kY)},
           {"learning_rate", host_f32({}, {0.03f})},
           {"step", host_f32({}, {static_cast<float>(step)})}},
          nullptr);
}

std::map<std::string, std::vector<uint8_t>> state_bytes(const Session& s) {
  std::map<std::string, std::vector<uint8_t>> out;
  for (const auto& p : s.params()) out[p.name] = s.get_param(p.name).bytes;
  return out;
}

TEST(SessionCheckpoint, SaveAndLoadRestoreEveryTensorBitExactly) {
  std::string path = test::temp_dir() + "/c.safetensors";
  Session s(test::tiny_executable(), "tiny.dlc");
  train(s, 1, 3);
  auto saved = state_bytes(s);
  s.save_checkpoint(path, {{"step", "3"}, {"epoch", "1"}});
  train(s, 4, 5);
  ASSERT_NE(state_bytes(s), saved);
  auto meta = s.load_checkpoint(path);
  EXPECT_EQ(state_bytes(s), saved);
  EXPECT_EQ(meta, (std::map<std::string, std::string>{{"epoch", "1"}, {"step", "3"}}));
}

TEST(SessionCheckpoint, ResumingContinuesBitIdentically) {
  std::string path = test::temp_dir() + "/c.safetensors";
  Session straight(test::tiny_executable(), "tiny.dlc");
  train(straight, 1, 6);

  Session first(test::tiny_executable(), "tiny.dlc");
  train(first, 1, 2);
  first.save_checkpoint(path, {{"step", "2"}});
  Session resumed(test::tiny_executable(), "tiny.dlc");
  resumed.load_checkpoint(path);
  train(resumed, 3, 6);
  EXPECT_EQ(state_bytes(resumed), state_bytes(straight));
}

TEST(SessionCheckpoint, MismatchedCheckpointsAreRefusedAndChangeNothing) {
  std::string dir = test::temp_dir();
  Session s(test::tiny_executable(), "tiny.dlc");
  auto before = state_bytes(s);
  auto message = [&](const Checkpoint& c, bool strict) {
    save_checkpoint(dir + "/c.safetensors", c);
    try {
      strict ? s.load_checkpoint(dir + "/c.safetensors") : s.load_weights(dir + "/c.safetensors");
      return std::string();
    } catch (const Error& e) {
      return std::string(e.what());
    }
  };
  Checkpoint full;
  for (const auto& p : s.params()) full.tensors[p.name] = s.get_param(p.name);

  Checkpoint missing = full;
  missing.tensors.erase("t");
  EXPECT_NE(message(missing, true).find("checkpoint lacks persistent tensor 't' f32[] of tiny.dlc"), std::string::npos);
  Checkpoint no_weight = full;
  no_weight.tensors.erase("w");
  no_weight.tensors["b"] = host_f32({2}, {9, 9});
  EXPECT_NE(message(no_weight, false).find("checkpoint lacks parameter 'w' f32[3,2]"), std::string::npos);
  Checkpoint wrong_shape = full;
  wrong_shape.tensors["w"] = host_f32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_NE(message(wrong_shape, true).find("'w' is f32[2,3] in the checkpoint, but f32[3,2] in tiny.dlc"),
            std::string::npos);
  Checkpoint extra = full;
  extra.tensors["adam_m"] = host_f32({1}, {0});
  EXPECT_NE(message(extra, true).find("checkpoint holds 'adam_m', which tiny.dlc does not have"), std::string::npos);
  EXPECT_EQ(state_bytes(s), before);
}

TEST(SessionCheckpoint, WeightsLoadIgnoresExtrasAndMissingState) {
  std::string path = test::temp_dir() + "/w.safetensors";
  Session s(test::tiny_executable(), "tiny.dlc");
  Checkpoint c;
  c.tensors["w"] = host_f32({3, 2}, {1, 2, 3, 4, 5, 6});
  c.tensors["b"] = host_f32({2}, {7, 8});
  c.tensors["momentum_w"] = host_f32({3, 2}, {0, 0, 0, 0, 0, 0});
  save_checkpoint(path, c);
  s.load_weights(path);
  EXPECT_EQ(s.get_param("w").bytes, c.tensors["w"].bytes);
  EXPECT_EQ(s.get_param("b").bytes, c.tensors["b"].bytes);
  EXPECT_EQ(s.get_param("t").get(0), 0.0);
}

}  // namespace
}  // namespace dlc
