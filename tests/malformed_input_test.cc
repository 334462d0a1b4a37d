// Malformed model files: truncated, corrupted and random .pb and .pbtxt
// input, from a seeded generator. Each case must load into a model or throw
// dlc::Error; verification and printing of whatever loads must not crash
// either. (CI runs this under AddressSanitizer.)
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "frontend/model_loader.h"
#include "ir/error.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {"linear_regression", "perceptron", "logistic_regression",
                                                 "softmax_regression", "mlp_mnist"};
  return names;
}

std::string read_source(const std::string& rel) {
  std::ifstream in(test::source_path(rel), std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string model_text(const std::string& name) { return read_source("models/" + name + ".pbtxt"); }

std::string model_binary(const std::string& name) {
  return model_to_proto(parse_model_text(model_text(name), name)).SerializeAsString();
}

/// Outcome counts, so a test can show its inputs were really malformed.
struct Tally {
  int loaded = 0;    // parsed; then verified and printed without crashing
  int rejected = 0;  // dlc::Error from the loader
  int total() const { return loaded + rejected; }
};

/// Runs one case: anything but a model or a dlc::Error fails the test (and
/// a crash ends it).
void run_case(const std::function<Model()>& load, Tally& tally) {
  Model m;
  try {
    m = load();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()), "");
    ++tally.rejected;
    return;
  }
  ++tally.loaded;
  std::vector<std::string> errors = verify_model(m);
  for (const auto& e : errors) EXPECT_FALSE(e.empty());
  EXPECT_FALSE(print_model(m).empty() && !m.graph.outputs.empty());
}

void text_case(const std::string& text, Tally& tally) {
  run_case([&] { return parse_model_text(text, "case.pbtxt"); }, tally);
}

void binary_case(const std::string& bytes, Tally& tally) {
  run_case([&] { return parse_model_binary(bytes, "case.pb"); }, tally);
}

std::string random_bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

TEST(MalformedInput, TruncatedBinaryModels) {
  std::mt19937_64 rng(1);
  Tally tally;
  for (const auto& name : model_names()) {
    std::string bytes = model_binary(name);
    // Every short prefix, where the message headers are, then random cuts.
    for (size_t n = 0; n < std::min<size_t>(bytes.size(), 40); ++n) binary_case(bytes.substr(0, n), tally);
    for (int k = 0; k < 40; ++k) binary_case(bytes.substr(0, rng() % bytes.size()), tally);
  }
  EXPECT_GE(tally.total(), 300);
  // Most cuts land inside a field; a few land between top-level fields.
  EXPECT_GT(tally.rejected, tally.total() / 2);
}

TEST(MalformedInput, CorruptedBinaryModels) {
  std::mt19937_64 rng(2);
  Tally tally;
  for (const auto& name : model_names()) {
    std::string good = model_binary(name);
    for (int k = 0; k < 80; ++k) {
      std::string bytes = good;
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xff);
      binary_case(bytes, tally);
    }
  }
  EXPECT_EQ(tally.total(), 400);
}

TEST(MalformedInput, RandomBytesAsBinary) {
  std::mt19937_64 rng(3);
  Tally tally;
  for (int k = 0; k < 300; ++k) binary_case(random_bytes(rng, rng() % 600), tally);
  EXPECT_EQ(tally.total(), 300);
  EXPECT_GT(tally.rejected, 250);
}

TEST(MalformedInput, TruncatedTextModels) {
  std::mt19937_64 rng(4);
  Tally tally;
  for (const auto& name : model_names()) {
    std::string text = model_text(name);
    for (int k = 0; k < 60; ++k) text_case(text.substr(0, rng() % text.size()), tally);
  }
  EXPECT_EQ(tally.total(), 300);
  EXPECT_GT(tally.rejected, tally.total() / 2);
}

TEST(MalformedInput, CorruptedTextModels) {
  std::mt19937_64 rng(5);
  // Characters that matter to the text format, plus arbitrary bytes.
  std::string special = "{}[]:\"\\#-0123456789.eE \n\t";
  special += '\0';
  special += '\xff';
  Tally tally;
  for (const auto& name : model_names()) {
    std::string good = model_text(name);
    for (int k = 0; k < 60; ++k) {
      std::string text = good;
      int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) {
        size_t at = rng() % text.size();
        char c = rng() % 2 ? special[rng() % special.size()] : static_cast<char>(rng() & 0xff);
        if (rng() % 2) text[at] = c;
        else text.insert(at, 1, c);
      }
      text_case(text, tally);
    }
  }
  EXPECT_EQ(tally.total(), 300);
  EXPECT_GT(tally.rejected, 0);
}

TEST(MalformedInput, RandomBytesAsText) {
  std::mt19937_64 rng(6);
  Tally tally;
  for (int k = 0; k < 200; ++k) text_case(random_bytes(rng, rng() % 400), tally);
  EXPECT_EQ(tally.total(), 200);
  EXPECT_GT(tally.rejected, 190);
}

TEST(MalformedInput, HostileButWellFormedText) {
  // Parses, then stresses the verifier and the ops' shape rules.
  Tally tally;
  const char* cases[] = {
      "graph { inputs { name: \"x\" type { dims: [9223372036854775807, 9223372036854775807] } } outputs: \"x\" }",
      "graph { params { name: \"p\" type { dims: [-9223372036854775807] } init { data {} } } outputs: \"p\" }",
      "graph { inputs { name: \"x\" type { dims: [-1] } }\n"
      "  nodes { op: \"reshape\" inputs: \"x\" outputs: \"y\" attrs { key: \"dims\" value { ints { values: [-5, 0] } } } }\n"
      "  outputs: \"y\" }",
      "graph { inputs { name: \"x\" type { dims: [2, 3] } }\n"
      "  nodes { op: \"transpose\" inputs: \"x\" outputs: \"y\" attrs { key: \"perm\" value { ints { values: [7, -1] } } } }\n"
      "  outputs: \"y\" }",
      "graph { inputs { name: \"x\" type { dims: [2, 3] } }\n"
      "  nodes { op: \"reduce_sum\" inputs: \"x\" outputs: \"y\" attrs { key: \"axes\" value { ints { values: [99] } } } }\n"
      "  outputs: \"y\" }",
      "graph { inputs { name: \"x\" type { dims: [2, 3] } }\n"
      "  nodes { op: \"softmax\" inputs: \"x\" outputs: \"y\" attrs { key: \"axis\" value { i: -9223372036854775807 } } }\n"
      "  outputs: \"y\" }",
      "graph { inputs { name: \"x\" type { dtype: I64 dims: [3] } }\n"
      "  nodes { op: \"one_hot\" inputs: \"x\" outputs: \"y\" attrs { key: \"depth\" value { i: -4 } } }\n"
      "  outputs: \"y\" }",
      "graph { nodes { op: \"constant\" outputs: \"c\" attrs { key: \"dims\" value { ints { values: [4611686018427387904, 4] } } } }\n"
      "  outputs: \"c\" }",
      "graph { inputs { name: \"x\" type { dims: [2, 3] } }\n"
      "  nodes { op: \"broadcast_to\" inputs: \"x\" outputs: \"y\" attrs { key: \"dims\" value { ints { values: [] } } } }\n"
      "  outputs: \"y\" }",
      "graph { nodes { op: \"\" } nodes { } outputs: \"\" }",
      "training { loss: \"l\" }",
  };
  for (const char* text : cases) text_case(text, tally);
  EXPECT_EQ(tally.total(), static_cast<int>(std::size(cases)));
}

TEST(MalformedInput, TruncatedFilesOnDisk) {
  // The same through load_model, so reading files is covered too.
  std::mt19937_64 rng(7);
  std::string dir = test::temp_dir();
  Tally tally;
  for (const auto& name : model_names()) {
    std::string bytes = model_binary(name), text = model_text(name);
    std::string pb = dir + "/" + name + ".pb", pbtxt = dir + "/" + name + ".pbtxt";
    std::ofstream(pb, std::ios::binary) << bytes.substr(0, rng() % bytes.size());
    std::ofstream(pbtxt, std::ios::binary) << text.substr(0, rng() % text.size());
    run_case([&] { return load_model(pb); }, tally);
    run_case([&] { return load_model(pbtxt); }, tally);
  }
  EXPECT_EQ(tally.total(), 10);
}

}  // namespace
}  // namespace dlc
