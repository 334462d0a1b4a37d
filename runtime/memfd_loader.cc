#include "runtime/memfd_loader.h"

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ir/error.h"

namespace dlc {

namespace {

void write_all(int fd, const std::string& bytes, const std::string& label) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("cannot write the code of " + label + " to memory: " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::unique_ptr<MemoryLibrary> MemoryLibrary::load(const std::string& bytes, const std::string& label) {
  if (bytes.size() < 4 || bytes.compare(0, 4, "\x7f" "ELF") != 0)
    throw Error("the code of " + label + " is not an ELF shared object");
  int fd = memfd_create(label.c_str(), MFD_CLOEXEC);
  if (fd < 0) throw Error("memfd_create failed for " + label + ": " + std::strerror(errno));
  try {
    write_all(fd, bytes, label);
  } catch (...) {
    ::close(fd);
    throw;
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    ::close(fd);
    throw Error("cannot load the code of " + label + ": " + (why ? why : "dlopen failed"));
  }
  // The fd stays open while the library is loaded: glibc matches dlopen
  // paths by name, so a reused fd number would hand back the old library.
  return std::unique_ptr<MemoryLibrary>(new MemoryLibrary(fd, handle, label));
}

MemoryLibrary::~MemoryLibrary() {
  dlclose(handle_);
  ::close(fd_);
}

void* MemoryLibrary::symbol(const std::string& name) const {
  dlerror();
  void* p = dlsym(handle_, name.c_str());
  if (!p) throw Error("the code of " + label_ + " has no symbol '" + name + "'");
  return p;
}

}  // namespace dlc
