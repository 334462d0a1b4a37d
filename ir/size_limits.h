// The limit on one allocation, and overflow-safe size arithmetic.
//
// Sizes come from untrusted places: a file header that claims a shape, a
// model that declares a parameter, a shape rule that multiplies dimensions.
// Every such size is checked against the limit before anything is
// allocated, so a bad file or a typo is an error naming the file or tensor,
// the size and the limit, never std::bad_alloc or minutes of zeroing memory.
//
// The limit bounds ONE allocation: one tensor (parameter, input at the bound
// batch, intermediate), the data one file claims to hold, the planned temp
// arena of one entry point. Set it with `--max-memory BYTES` on dlc and
// dlrun, or the environment variable DLC_MAX_MEMORY (the flag wins).
#pragma once

#include <cstdint>
#include <new>
#include <string>

#include "ir/types.h"

namespace dlc {

/// The default limit: 16 GiB. A fixed number, not a share of this machine's
/// memory, because the compiler checks it too: a model must not compile on
/// one machine and be refused on another (cuda executables are compiled on
/// a cpu box for a GPU with different memory). 16 GiB is far above any
/// tensor of the models here (the largest is 0.8 MB) and still fits the
/// memory of the machines we run on, so a typo such as a parameter of 10^12
/// elements is caught while real large models only need the flag.
constexpr int64_t kDefaultMaxMemory = int64_t{16} << 30;

/// The limit in force: set_max_memory's value, else DLC_MAX_MEMORY, else
/// kDefaultMaxMemory. Throws dlc::Error naming DLC_MAX_MEMORY when it does
/// not hold a byte count.
int64_t max_memory_bytes();

/// Sets the limit for this process (`bytes` > 0); 0 goes back to
/// DLC_MAX_MEMORY or the default.
void set_max_memory(int64_t bytes);

/// Parses a byte count: digits with an optional K, M, G or T suffix (powers
/// of 1024; "KiB" etc. and a trailing "B" are accepted too). Throws
/// dlc::Error naming `what` (a flag or variable) and `text` on anything
/// else, including 0 and counts that do not fit int64.
int64_t parse_byte_count(const std::string& what, const std::string& text);

/// Takes every "--max-memory BYTES" or "--max-memory=BYTES" out of argv[1..]
/// (so each subcommand's own parser never sees it) and applies it with
/// set_max_memory. Returns "" or the usage error to print.
std::string take_max_memory_option(int* argc, char** argv);

/// a * b for non-negative operands (INT64_MAX for a negative one: not a
/// size) and a + b for a non-negative b, INT64_MAX when the true value
/// does not fit.
int64_t saturating_mul(int64_t a, int64_t b);
int64_t saturating_add(int64_t a, int64_t b);

/// The bytes `t` takes with the batch dimension counted as `batch`
/// (1 while it is unbound: the least it can be), saturated.
int64_t type_bytes(const TensorType& t, int64_t batch = 1);

/// "" when `bytes` is within the limit, else e.g. "4000000000000 bytes
/// (3.6 TiB), over the limit of 17179869184 bytes (16.0 GiB; --max-memory
/// or DLC_MAX_MEMORY raises it)".
std::string size_fault(int64_t bytes);

/// Throws dlc::Error("<what>: <size_fault>") when `bytes` is over the limit.
void check_size(const std::string& what, int64_t bytes);

/// "3.6 TiB": bytes in the largest binary unit below them.
std::string human_bytes(int64_t bytes);

/// Runs `allocate`; a std::bad_alloc from it becomes a dlc::Error naming
/// `what` and `bytes`, so the rare allocation that passes the limit but not
/// the machine still reads as a user-facing error.
template <typename F>
auto allocating(const std::string& what, int64_t bytes, F&& allocate) -> decltype(allocate());
[[noreturn]] void throw_out_of_memory(const std::string& what, int64_t bytes);

template <typename F>
auto allocating(const std::string& what, int64_t bytes, F&& allocate) -> decltype(allocate()) {
  try {
    return allocate();
  } catch (const std::bad_alloc&) {
    throw_out_of_memory(what, bytes);
  }
}

}  // namespace dlc
