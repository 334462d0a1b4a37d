#include "ir/number_text.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "ir/error.h"
#include "ir/printer.h"  // format_number

namespace dlc {
namespace {

/// strtoll and strtod skip leading blanks; a flag value or a metadata field
/// that starts with one is not a number as written.
bool starts_with_blank(const std::string& text) {
  return !text.empty() && std::isspace(static_cast<unsigned char>(text[0]));
}

std::string quoted(const std::string& what, const std::string& text) { return what + ": '" + text + "'"; }

std::string whole_range(int64_t min, int64_t max) {
  constexpr int64_t lowest = std::numeric_limits<int64_t>::min(), highest = std::numeric_limits<int64_t>::max();
  if (max == highest) return ">= " + std::to_string(min);
  if (min == lowest) return "<= " + std::to_string(max);
  return "in " + std::to_string(min) + ".." + std::to_string(max);
}

}  // namespace

int64_t parse_whole_number(const std::string& what, const std::string& text, int64_t min, int64_t max) {
  if (text.empty() || starts_with_blank(text)) throw Error(quoted(what, text) + " is not a whole number");
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (*end != '\0') throw Error(quoted(what, text) + " is not a whole number");
  if (errno == ERANGE || v < min || v > max)
    throw Error(quoted(what, text) + " is out of range: must be " + whole_range(min, max));
  return v;
}

uint64_t parse_unsigned_number(const std::string& what, const std::string& text) {
  // strtoull reads "-1" as 2^64-1; a seed written negative is a mistake.
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
    throw Error(quoted(what, text) + " is not a whole number >= 0");
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (*end != '\0') throw Error(quoted(what, text) + " is not a whole number >= 0");
  if (errno == ERANGE) throw Error(quoted(what, text) + " is out of range: must be in 0..18446744073709551615");
  return v;
}

bool RealRange::contains(double v) const {
  bool above = low_open ? v > low : v >= low;
  bool below = high_open ? v < high : v <= high;
  return above && below;
}

std::string RealRange::describe() const {
  bool no_low = std::isinf(low), no_high = std::isinf(high);
  if (no_low && no_high) return "finite";
  if (no_high) return std::string(low_open ? "> " : ">= ") + format_number(low);
  if (no_low) return std::string(high_open ? "< " : "<= ") + format_number(high);
  return std::string("in ") + (low_open ? "(" : "[") + format_number(low) + ", " + format_number(high) +
         (high_open ? ")" : "]");
}

double parse_real_number(const std::string& what, const std::string& text, RealRange range) {
  if (text.empty() || starts_with_blank(text)) throw Error(quoted(what, text) + " is not a number");
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (*end != '\0') throw Error(quoted(what, text) + " is not a number");
  // Overflow gives HUGE_VAL with ERANGE; an underflow (a tiny value) is
  // left to the range check.
  if (!std::isfinite(v)) throw Error(quoted(what, text) + " is not finite");
  if (!range.contains(v)) throw Error(quoted(what, text) + " is out of range: must be " + range.describe());
  return v;
}

}  // namespace dlc
