// NumPy .npy files: version 1 and 2 headers, little-endian f4/f8/i4/i8/u1/b1
// in C order. Fortran order, big-endian data and other dtypes are refused.
#pragma once

#include <string>

#include "runtime/executor.h"

namespace dlc {

/// Reads an .npy file. Unsigned bytes (u1, e.g. image pixels) widen to i32,
/// since the graph IR has no u8. Throws dlc::Error naming the file and fault.
HostTensor read_npy(const std::string& path);

/// Parses .npy bytes; `source` names them in errors.
HostTensor parse_npy(const std::string& bytes, const std::string& source);

/// Writes `t` as an .npy file (version 1 header, or 2 when the header needs
/// it), atomically. Throws dlc::Error naming the file.
void write_npy(const std::string& path, const HostTensor& t);

/// The bytes write_npy writes.
std::string encode_npy(const HostTensor& t);

}  // namespace dlc
