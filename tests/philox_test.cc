#include <gtest/gtest.h>

#include <cmath>

#include "ir/philox.h"

namespace dlc {

// Known-answer vectors from Random123's tests/kat_vectors ("philox4x32 10"
// lines: counter[4] key[2] -> output[4]).
TEST(Philox, Random123KnownAnswers) {
  EXPECT_EQ(philox4x32_10({0, 0, 0, 0}, {0, 0}),
            (PhiloxCounter{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}),
            (PhiloxCounter{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (PhiloxCounter{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Philox, CounterAndKeyHelpersPutLowWordFirst) {
  EXPECT_EQ(philox_counter(0x0000000100000002ull, 0x0000000300000004ull), (PhiloxCounter{2, 1, 4, 3}));
  EXPECT_EQ(philox_key(0xaabbccdd11223344ull), (PhiloxKey{0x11223344, 0xaabbccdd}));
}

TEST(Philox, UniformFloatCoversHalfOpenUnitInterval) {
  EXPECT_EQ(uniform_float(0), 0.0f);
  EXPECT_LT(uniform_float(0xffffffffu), 1.0f);
  EXPECT_EQ(uniform_float(0xffffffffu), 1.0f - 0x1p-24f);
  EXPECT_EQ(uniform_float(0x80000000u), 0.5f);
  EXPECT_GT(uniform_double_open0(0, 0), 0.0);
  EXPECT_LE(uniform_double_open0(0xffffffffu, 0xffffffffu), 1.0);
}

TEST(Philox, UniformStreamHasUniformMoments) {
  // Mean 1/2 and variance 1/12 over 400k draws; tolerances are ~5 sigma.
  const int n = 100000;
  double sum = 0, sum_sq = 0;
  for (int c = 0; c < n; ++c) {
    PhiloxCounter w = philox4x32_10(philox_counter(static_cast<uint64_t>(c), 7), philox_key(42));
    for (uint32_t x : w) {
      double u = uniform_float(x);
      sum += u;
      sum_sq += u * u;
    }
  }
  double m = sum / (4.0 * n);
  double var = sum_sq / (4.0 * n) - m * m;
  EXPECT_NEAR(m, 0.5, 5 * std::sqrt(1.0 / 12 / (4.0 * n)));
  EXPECT_NEAR(var, 1.0 / 12, 0.002);
}

TEST(Philox, Fnv1aMatchesReferenceValues) {
  // Published FNV-1a 64 test values: "" and "a".
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
}

TEST(Philox, DropoutKeepDependsOnEveryInput) {
  auto mask = [](uint64_t seed, uint64_t key, uint64_t step) {
    std::vector<bool> m;
    for (uint64_t i = 0; i < 256; ++i) m.push_back(dropout_keep(seed, key, step, i, 0.5f));
    return m;
  };
  auto base = mask(1, 2, 3);
  EXPECT_EQ(base, mask(1, 2, 3));
  EXPECT_NE(base, mask(9, 2, 3));
  EXPECT_NE(base, mask(1, 9, 3));
  EXPECT_NE(base, mask(1, 2, 9));
  EXPECT_TRUE(dropout_keep(1, 2, 3, 0, 0.0f));  // rate 0 keeps everything
}

}  // namespace dlc
