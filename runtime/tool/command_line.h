// Command-line handling shared by the dlrun subcommands: splitting argv into
// options and positional arguments, NAME=FILE bindings, and number options.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/number_text.h"

namespace dlc {

/// One argument: an option ("--flag", "--flag=value", or "--flag value" for
/// a flag that takes a value) or a positional argument.
struct Argument {
  std::string text;   ///< as typed
  std::string flag;   ///< "--flag" for an option, "" for a positional argument
  std::string value;  ///< the option's value; "" when none was given
  bool is_option() const { return !flag.empty(); }
};

/// Splits argv[1..] (argv[0] is the subcommand) into arguments; the flags in
/// `valued` take the next argument as their value when written without '='.
/// Returns 0; or -1 after printing `usage` for --help / -h; or 2 after
/// printing "dlrun COMMAND: --flag needs a value".
int split_arguments(int argc, char** argv, const std::vector<std::string>& valued, const char* command,
                    const char* usage, std::vector<Argument>* out);

/// Prints "dlrun COMMAND: MESSAGE" and the usage text; returns 2 (a usage error).
int usage_error(const char* command, const std::string& message, const char* usage);
/// usage_error for an option the command does not know or a positional argument too many.
int unexpected_argument(const char* command, const Argument& a, const char* usage);

/// A NAME=FILE option value; `name` is empty when only a file was given.
struct Binding {
  std::string name;
  std::string file;
};
/// Splits NAME=FILE; a path may hold '=' too, so only a bare name (no '/')
/// before the first '=' counts as a name.
Binding parse_binding(const std::string& value);

/// Option values, parsed strictly (ir/number_text.h): the whole value, no
/// clamping of an overflow, and within the range the option accepts. Each
/// throws dlc::Error naming the option and the value.
int64_t parse_int_option(const std::string& flag, const std::string& value, int64_t min,
                         int64_t max = std::numeric_limits<int64_t>::max());
uint64_t parse_seed_option(const std::string& flag, const std::string& value);
double parse_real_option(const std::string& flag, const std::string& value, RealRange range);

/// The most epochs a run may ask for: far beyond any real run, and small
/// enough that epochs x updates per epoch cannot overflow a step count.
constexpr int64_t kMaxEpochs = 1000000;

}  // namespace dlc
