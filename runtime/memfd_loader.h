// Loads a shared object held in memory (an executable's code bytes) without
// writing it to disk: memfd_create, then dlopen("/proc/self/fd/N").
#pragma once

#include <memory>
#include <string>

namespace dlc {

/// A shared object loaded from bytes; unloaded on destruction.
class MemoryLibrary {
 public:
  /// Loads `bytes` (an ELF shared object). `label` names it in error text
  /// and in /proc/self/maps. Throws dlc::Error with the loader's reason.
  static std::unique_ptr<MemoryLibrary> load(const std::string& bytes, const std::string& label);
  ~MemoryLibrary();
  MemoryLibrary(const MemoryLibrary&) = delete;
  MemoryLibrary& operator=(const MemoryLibrary&) = delete;

  /// The address of `name`; throws dlc::Error when the library lacks it.
  void* symbol(const std::string& name) const;

 private:
  MemoryLibrary(int fd, void* handle, std::string label) : fd_(fd), handle_(handle), label_(std::move(label)) {}
  int fd_;
  void* handle_;
  std::string label_;
};

}  // namespace dlc
