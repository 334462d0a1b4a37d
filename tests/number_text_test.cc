// Strict number parsing (ir/number_text.h), which every numeric flag of dlc
// and dlrun, DLC_NUM_THREADS and the checkpoint metadata go through: the
// cases strtoll/strtod/atoi let through (overflow clamped to INT64_MAX,
// leading blanks, trailing junk, a minus sign wrapped to 2^64-1) are refused
// with the name and the value.
#include <gtest/gtest.h>

#include <string>

#include "ir/error.h"
#include "ir/number_text.h"

namespace dlc {
namespace {

/// The error text parsing `text` gives; "" when it parses.
template <class Fn>
std::string error_of(Fn parse) {
  try {
    parse();
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

TEST(NumberText, WholeNumbersAreTheWholeTextAndNeverClamped) {
  EXPECT_EQ(parse_whole_number("--n", "42"), 42);
  EXPECT_EQ(parse_whole_number("--n", "-7"), -7);
  EXPECT_EQ(parse_whole_number("--n", "+7"), 7);
  EXPECT_EQ(parse_whole_number("--n", "9223372036854775807"), INT64_MAX);
  for (const char* bad : {"", " 5", "5 ", "5x", "0x10", "1e3", "2.0", "--5"})
    EXPECT_EQ(error_of([&] { parse_whole_number("--n", bad); }), std::string("--n: '") + bad + "' is not a whole number");
  EXPECT_EQ(error_of([] { parse_whole_number("--epochs", "99999999999999999999", 1, 1000000); }),
            "--epochs: '99999999999999999999' is out of range: must be in 1..1000000");
  EXPECT_EQ(error_of([] { parse_whole_number("--n", "-99999999999999999999"); }),
            "--n: '-99999999999999999999' is out of range: must be >= -9223372036854775808");
  EXPECT_EQ(error_of([] { parse_whole_number("--limit", "-5", 1); }), "--limit: '-5' is out of range: must be >= 1");
  EXPECT_EQ(error_of([] { parse_whole_number("x", "5", INT64_MIN, 3); }), "x: '5' is out of range: must be <= 3");
}

TEST(NumberText, SeedsTakeTheFullUnsignedRangeButNoMinus) {
  EXPECT_EQ(parse_unsigned_number("--seed", "18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(parse_unsigned_number("--seed", "0"), 0u);
  EXPECT_EQ(error_of([] { parse_unsigned_number("--seed", "-1"); }), "--seed: '-1' is not a whole number >= 0");
  EXPECT_EQ(error_of([] { parse_unsigned_number("--seed", "18446744073709551616"); }),
            "--seed: '18446744073709551616' is out of range: must be in 0..18446744073709551615");
}

TEST(NumberText, RealsAreFiniteAndWithinTheirRange) {
  EXPECT_EQ(parse_real_number("--lr", "0.5", RealRange::positive()), 0.5);
  EXPECT_EQ(parse_real_number("f", "0x1.8p+1"), 3.0);  // hex floats, as checkpoints store them
  EXPECT_EQ(error_of([] { parse_real_number("--lr", "-1", RealRange::positive()); }),
            "--lr: '-1' is out of range: must be > 0");
  EXPECT_EQ(error_of([] { parse_real_number("--lr", "0", RealRange::positive()); }),
            "--lr: '0' is out of range: must be > 0");
  for (const char* bad : {"nan", "inf", "-inf", "1e999"})
    EXPECT_EQ(error_of([&] { parse_real_number("--lr", bad); }), std::string("--lr: '") + bad + "' is not finite");
  for (const char* bad : {"", " 1", "1,5", "0.1x"})
    EXPECT_EQ(error_of([&] { parse_real_number("--lr", bad); }), std::string("--lr: '") + bad + "' is not a number");
  EXPECT_EQ(error_of([] { parse_real_number("--val-split", "1", {0, false, 1, true}); }),
            "--val-split: '1' is out of range: must be in [0, 1)");
  EXPECT_EQ(error_of([] { parse_real_number("--x", "-0.5", RealRange::non_negative()); }),
            "--x: '-0.5' is out of range: must be >= 0");
}

}  // namespace
}  // namespace dlc
