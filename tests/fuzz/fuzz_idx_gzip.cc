// IDX files through the gzip path: the input is the IDX content, gzipped
// here before read_idx sees it, so every mutation reaches the IDX parser
// behind zlib's decompression (fuzz_idx covers corrupt gzip streams).
#include <zlib.h>

#include "ir/error.h"
#include "runtime/datasets.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

std::string gzip(const uint8_t* data, size_t size) {
  z_stream s{};
  // windowBits 15 + 16: a gzip header and trailer rather than zlib's.
  if (deflateInit2(&s, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
  std::string out(deflateBound(&s, size) + 32, '\0');
  s.next_in = const_cast<Bytef*>(data);
  s.avail_in = static_cast<uInt>(size);
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  if (deflate(&s, Z_FINISH) != Z_STREAM_END) abort();
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static dlc::fuzz::MemoryFile file("fuzz.idx.gz");
  std::string gz = gzip(data, size);
  const std::string& path = file.hold(gz.data(), gz.size());
  for (int64_t max_rows : {int64_t{-1}, int64_t{1}}) {
    try {
      dlc::read_idx(path, max_rows);
    } catch (const dlc::Error&) {
    }
  }
  return 0;
}
