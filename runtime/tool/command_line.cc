#include "runtime/tool/command_line.h"

#include <algorithm>
#include <cstdio>

#include "ir/error.h"

namespace dlc {

int split_arguments(int argc, char** argv, const std::vector<std::string>& valued, const char* command,
                    const char* usage, std::vector<Argument>* out) {
  out->clear();
  for (int i = 1; i < argc; ++i) {
    Argument a;
    a.text = argv[i];
    if (a.text == "--help" || a.text == "-h") {
      std::fputs(usage, stdout);
      return -1;
    }
    if (a.text.size() > 1 && a.text[0] == '-') {
      size_t eq = a.text.find('=');
      a.flag = a.text.substr(0, eq);
      if (eq != std::string::npos) {
        a.value = a.text.substr(eq + 1);
      } else if (std::find(valued.begin(), valued.end(), a.flag) != valued.end()) {
        if (i + 1 >= argc) return usage_error(command, a.flag + " needs a value", "");
        a.value = argv[++i];
      }
    }
    out->push_back(std::move(a));
  }
  return 0;
}

int usage_error(const char* command, const std::string& message, const char* usage) {
  std::fprintf(stderr, "dlrun %s: %s\n%s%s", command, message.c_str(), *usage ? "\n" : "", usage);
  return 2;
}

int unexpected_argument(const char* command, const Argument& a, const char* usage) {
  return usage_error(command, (a.is_option() ? "unknown option '" : "unexpected argument '") + a.text + "'", usage);
}

Binding parse_binding(const std::string& value) {
  size_t eq = value.find('=');
  if (eq != std::string::npos && eq > 0 && value.find('/') > eq) return {value.substr(0, eq), value.substr(eq + 1)};
  return {"", value};
}

int64_t parse_int_option(const std::string& flag, const std::string& value, int64_t min, int64_t max) {
  return parse_whole_number(flag, value, min, max);
}

uint64_t parse_seed_option(const std::string& flag, const std::string& value) {
  return parse_unsigned_number(flag, value);
}

double parse_real_option(const std::string& flag, const std::string& value, RealRange range) {
  return parse_real_number(flag, value, range);
}

}  // namespace dlc
