// The one exception type dlc throws for user-facing errors.
#pragma once

#include <stdexcept>
#include <string>

namespace dlc {

/// An error whose text is ready to show a user: it names the file, node or
/// value at fault.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace dlc
