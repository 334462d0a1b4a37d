#include "runtime/work_split.h"

#include <algorithm>

namespace dlc::work_split {
namespace {

// A chunk below these sizes costs more to hand out than it saves (a
// worker's wake-up is a few microseconds).
constexpr int64_t kLoopItemsPerChunk = 16384;  // loop iterations
constexpr int64_t kGemmMacsPerChunk = 1 << 20;  // multiply-adds

// Loops: many small chunks; claiming one is an atomic increment, and they
// balance any thread count up to the cap.
constexpr int64_t kMaxLoopChunks = 64;
// GEMMs: every block repacks the whole of the operand the blocks share, so
// blocks stay few and large: up to kMaxGemmChunks, of at least kMinGemmBlock
// rows or columns. (Measured with OpenBLAS on one core, 1024x256x784 took
// 2.5% longer in 4 blocks than in 2, and 128x256x784 12%.)
constexpr int64_t kMaxGemmChunks = 4;
constexpr int64_t kMinGemmBlock = 128;
// Tall products go further: blocks of at least kTallGemmBlock rows (or
// columns) and kGemmMacsPerChunk multiply-adds, up to kMaxTallGemmChunks.
// A block's panel of A stays in cache across C's column panels, and a core
// taken by another process holds back a sixteenth of the product rather
// than a quarter. (Measured with oneDNN, 2 threads of
// single-threaded calls, 10000x256x784: 16 blocks 128-136 GFLOP/s against
// 77-116 in 4 blocks, AMD EPYC AVX2, session 15.)
constexpr int64_t kTallGemmBlock = 512;
constexpr int64_t kMaxTallGemmChunks = 16;
// A product too narrow for two blocks of kMinGemmBlock still takes two of
// at least this many rows (or columns) when it has two chunks' work: one
// block per core of a pair instead of one core idle.
constexpr int64_t kMinGemmPairBlock = 64;
// Convolutions: blocks of images, each one oneDNN call with its own reorders
// to and from the blocked layouts; a few per thread balance a busy core.
constexpr int64_t kConvMacsPerChunk = 1 << 19;
constexpr int64_t kMaxConvChunks = 16;
// The weight gradient's partial sums: at most this many floats in all.
constexpr int64_t kMaxConvPartialFloats = int64_t{1} << 24;

/// The largest power of two <= n (n >= 1): chunk counts that two, four or
/// eight threads share evenly.
int64_t floor_pow2(int64_t n) {
  int64_t p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

}  // namespace

int loop_chunks(int64_t range, int64_t work_per_item) {
  int64_t total = range * std::max<int64_t>(work_per_item, 1);
  int64_t chunks = std::min({total / kLoopItemsPerChunk, range, kMaxLoopChunks});
  return static_cast<int>(floor_pow2(std::max<int64_t>(chunks, 1)));
}

GemmSplit gemm_split(int64_t m, int64_t n, int64_t k) {
  GemmSplit s;
  s.by_rows = m >= n;
  int64_t dim = s.by_rows ? m : n;
  double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(std::max<int64_t>(k, 1));
  int64_t by_work = static_cast<int64_t>(std::min(macs / kGemmMacsPerChunk, 1e9));
  int64_t chunks = std::min({by_work, dim / kMinGemmBlock, kMaxGemmChunks});
  chunks = std::max(chunks, std::min({by_work, dim / kTallGemmBlock, kMaxTallGemmChunks}));
  chunks = std::max(chunks, std::min({by_work, dim / kMinGemmPairBlock, int64_t{2}}));
  s.chunks = static_cast<int>(floor_pow2(std::max<int64_t>(chunks, 1)));
  return s;
}

int conv_chunks(int64_t batch, int64_t macs, int64_t weight_numel) {
  int64_t chunks = std::min({macs / kConvMacsPerChunk, batch, kMaxConvChunks,
                             kMaxConvPartialFloats / std::max<int64_t>(weight_numel, 1)});
  return static_cast<int>(floor_pow2(std::max<int64_t>(chunks, 1)));
}

}  // namespace dlc::work_split
