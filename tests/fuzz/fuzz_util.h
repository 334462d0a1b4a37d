// What the libFuzzer targets share: the input as a string, and a file
// holding it for the readers that take only a path (IDX, CSV).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace dlc::fuzz {

inline std::string as_string(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

/// An in-memory file (memfd) rewritten for each input and read back through
/// /proc/self/fd, so a fuzz run leaves nothing on disk and parallel jobs
/// never share a file.
class MemoryFile {
 public:
  explicit MemoryFile(const char* name) : fd_(memfd_create(name, 0)) {
    if (fd_ < 0) abort();
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  /// Replaces the contents with `bytes`; returns the path that reads them.
  const std::string& hold(const void* bytes, size_t size) {
    if (ftruncate(fd_, 0) != 0 || pwrite(fd_, bytes, size, 0) != static_cast<ssize_t>(size)) abort();
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace dlc::fuzz
