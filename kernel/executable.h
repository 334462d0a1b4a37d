// The executable file (`model.dlc`): loading with full validation, and
// crash-safe saving. The message itself is proto::Executable (ir/dlc.proto).
#pragma once

#include <cstdint>
#include <string>

#include "ir/dlc.pb.h"
#include "ir/graph.h"

namespace dlc {

/// The executable format version this runtime reads and the compiler writes.
/// Bump it on any change that an older runtime would misread.
constexpr uint32_t kFormatVersion = 7;  // 7: all_reduce steps and data_parallel (--data-parallel); 6: guarded loads (convolution windows); 5: cuda kernels read the step from device memory, warp-per-item reductions; 4: several cuda modules (more_modules); 3: dropout mask loads, no reference calls; 2: no row kernels

/// The value of Executable.end_marker in every file written by
/// serialize_executable; its absence means the file was cut short.
constexpr uint64_t kEndMarker = 0x444e45434c44ull;  // "DLCEND", little-endian

/// Reads, parses and validates an executable. A bad file (unreadable,
/// truncated, random bytes, wrong version, dangling name, wrong sizes) throws
/// dlc::Error whose lines each read "<path>: <fault>".
proto::Executable load_executable(const std::string& path);

/// parse + validate of serialized bytes; `source` names them in errors.
/// Bytes without the end marker (kEndMarker) are refused as truncated, and
/// native code whose checksum (Executable.code_checksum) differs as corrupt.
proto::Executable parse_executable(const std::string& bytes, const std::string& source);

/// Checks everything a runtime relies on: the version, a known target, a
/// bound batch, that the graph verifies with no batch dimension left, that
/// every entry point's inputs, outputs and updates name existing values of
/// matching types (and list every input their outputs need), and that the
/// initial parameters cover every parameter with data of the right size.
/// Throws dlc::Error listing every fault, one "<source>: <fault>" per line.
void validate_executable(const proto::Executable& exe, const std::string& source);

/// CRC-32 of exe's native code (code, then ptx, then each of more_modules' code and ptx).
uint32_t code_checksum(const proto::Executable& exe);

/// Validates `exe` and serializes it with the end marker and the code
/// checksum set. Throws dlc::Error.
std::string serialize_executable(const proto::Executable& exe, const std::string& source);

/// Validates `exe` (so a compiler bug cannot write a file no runtime loads),
/// then writes it atomically (ir/file_io.h). Throws dlc::Error.
void save_executable_atomic(const proto::Executable& exe, const std::string& path);

/// The executable's batch-bound graph, verified (its `types` filled).
/// Throws dlc::Error when it does not verify.
Graph executable_graph(const proto::Executable& exe, const std::string& source = "");

/// The entry point called `name`, or nullptr.
const proto::EntryPoint* find_entry_point(const proto::Executable& exe, const std::string& name);

/// Checks a serialized tensor type: a known dtype, positive dimensions (no
/// batch dimension left) and a sane element count. "" when fine, else the fault.
std::string check_bound_type(const proto::TensorType& t);

}  // namespace dlc
