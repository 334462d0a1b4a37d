// Whole-file reads and crash-safe whole-file writes, shared by the
// executable, checkpoint and NPY code.
#pragma once

#include <string>
#include <vector>

namespace dlc {

/// The bytes of `path`; throws dlc::Error naming the file and the reason,
/// and before reading anything when the file is larger than the memory
/// limit (ir/size_limits.h).
std::string read_file_bytes(const std::string& path);

/// Replaces `path` with `bytes` so that a crash at any moment leaves either
/// the old file or the new one, never a mix: the bytes go to a temporary
/// file in the same folder, which is fsynced, renamed over `path`, and the
/// folder fsynced. Throws dlc::Error naming the file; the old file is then
/// untouched and the temporary removed.
void write_file_atomic(const std::string& path, const std::string& bytes);

/// Checks, before a long run, that write_file_atomic(path, ...) can succeed
/// later: `path` is not a folder and a temporary file can be created beside
/// it (created, then removed). Throws dlc::Error naming the file and reason.
void check_writable_atomically(const std::string& path);

/// Removes the temporary files write_file_atomic(path, ...) leaves when the
/// process is killed before its rename: "PATH.tmp.XXXXXX" (six characters
/// from mkstemp) in the same folder, regular files only. Returns their names.
/// Call it only when no other process is writing `path`.
std::vector<std::string> remove_stale_temporaries(const std::string& path);

}  // namespace dlc
