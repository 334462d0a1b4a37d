// Strict parsing of numbers written as text: command-line flags, environment
// variables and checkpoint metadata. The whole text must be the number (no
// leading blanks, no trailing characters), a value too large for its type is
// refused rather than clamped, and every caller states the range it accepts,
// so a typo or a corrupted field is an error naming it instead of a run that
// trains forever or backwards.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace dlc {

/// Parses `text` as a decimal whole number in [min, max]. Throws dlc::Error
/// "WHAT: 'TEXT' is not a whole number" or "WHAT: 'TEXT' is out of range:
/// must be ..." (`what` names the flag, variable or field).
int64_t parse_whole_number(const std::string& what, const std::string& text,
                           int64_t min = std::numeric_limits<int64_t>::min(),
                           int64_t max = std::numeric_limits<int64_t>::max());

/// Parses `text` as a decimal whole number in 0..2^64-1 (seeds); a minus
/// sign is refused, not wrapped around.
uint64_t parse_unsigned_number(const std::string& what, const std::string& text);

/// Where a real number may lie; each end open or closed.
struct RealRange {
  double low = -std::numeric_limits<double>::infinity();
  bool low_open = false;
  double high = std::numeric_limits<double>::infinity();
  bool high_open = false;

  static RealRange any() { return {}; }
  static RealRange positive() { return {0, true}; }
  static RealRange non_negative() { return {0, false}; }
  bool contains(double v) const;
  /// "> 0", ">= 0", "in [0, 1)", ...
  std::string describe() const;
};

/// Parses `text` as a finite real number (decimal or C hex-float) within
/// `range`. Throws dlc::Error "WHAT: 'TEXT' is not a number", "... is not
/// finite" or "... is out of range: must be ...".
double parse_real_number(const std::string& what, const std::string& text, RealRange range = RealRange::any());

}  // namespace dlc
