#include "ir/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ir/error.h"
#include "ir/size_limits.h"

namespace dlc {
namespace {

std::string reason() { return std::strerror(errno); }

/// Closes a descriptor on scope exit unless released.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

std::string parent_dir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// The temporary beside `path` that write_file_atomic writes first: mkstemp
/// fills in the six X's.
constexpr const char* kTemporarySuffix = ".tmp.";
constexpr size_t kTemporaryRandomChars = 6;
std::string temporary_template(const std::string& path) {
  return path + kTemporarySuffix + std::string(kTemporaryRandomChars, 'X');
}

}  // namespace

std::string read_file_bytes(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open: " + reason());
  FdGuard guard{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) throw Error(path + ": cannot stat: " + reason());
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a folder, not a file");
  // Everything read from a file is at least as large as the file, so the
  // file's size is checked before a byte of it is held.
  check_size(path + ": the file", static_cast<int64_t>(st.st_size));
  std::string bytes;
  if (st.st_size > 0)
    allocating(path + ": the file", st.st_size, [&] { bytes.reserve(static_cast<size_t>(st.st_size)); });
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(path + ": cannot read: " + reason());
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  return bytes;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  std::string tmp = temporary_template(path);
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw Error(path + ": cannot create a temporary file beside it: " + reason());
  bool renamed = false;
  auto fail = [&](const std::string& what) {
    std::string why = reason();
    if (fd >= 0) ::close(fd);
    if (!renamed) ::unlink(tmp.c_str());
    throw Error(path + ": cannot " + what + ": " + why);
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    done += static_cast<size_t>(n);
  }
  // mkstemp creates 0600; a written model or checkpoint should be as readable as any other file.
  mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  if (::fsync(fd) != 0) fail("sync");
  if (::close(fd) != 0) {
    fd = -1;
    fail("close");
  }
  fd = -1;
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename the temporary file over it");
  renamed = true;
  // The rename is durable only once the folder entry is on disk.
  int dir = ::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void check_writable_atomically(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw Error(path + ": is a folder, not a file");
  std::string tmp = temporary_template(path);
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw Error(path + ": cannot be written: cannot create a temporary file beside it: " + reason());
  ::close(fd);
  ::unlink(tmp.c_str());
}

std::vector<std::string> remove_stale_temporaries(const std::string& path) {
  std::vector<std::string> removed;
  std::string dir = parent_dir(path), prefix = base_name(path) + kTemporarySuffix;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return removed;  // no folder, no temporaries; writing will say what is wrong
  while (const dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() != prefix.size() + kTemporaryRandomChars || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string full = dir + "/" + name;
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::unlink(full.c_str()) == 0) removed.push_back(full);
  }
  ::closedir(d);
  return removed;
}

}  // namespace dlc
