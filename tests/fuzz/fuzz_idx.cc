// IDX files (the MNIST format) exactly as given: raw, or gzip when the input
// starts with gzip's magic (zlib reads both). Every row, then the first row
// only, since read_idx's max_rows path sizes its reads differently.
#include "ir/error.h"
#include "runtime/datasets.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static dlc::fuzz::MemoryFile file("fuzz.idx");
  const std::string& path = file.hold(data, size);
  for (int64_t max_rows : {int64_t{-1}, int64_t{1}}) {
    try {
      dlc::read_idx(path, max_rows);
    } catch (const dlc::Error&) {
    }
  }
  return 0;
}
