#include "compiler/codegen/cpu/convolution_emitter.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "compiler/codegen/cpu/emit_util.h"

namespace dlc::cpu {
namespace {

// The accumulators of one tile stay in registers: AVX-512 has 32 vector
// registers, AVX2 16; the rest hold a tap's pixels and a weight (or the
// result's gradient).
int max_accumulators(int lanes) { return lanes >= 16 ? 24 : 12; }
// The weight gradient's tile needs only two more registers (the gradient
// row and one pixel row), so it takes a whole 5x5 kernel on AVX-512.
int max_weight_accumulators(int lanes) { return lanes >= 16 ? 28 : 12; }

// A staged image larger than this would not stay in L1/L2 next to the
// output rows (and lives on the thread's stack).
constexpr int64_t kMaxStageBytes = 64 * 1024;
// Above this many channels or filters oneDNN's blocks are full.
constexpr int64_t kMaxChannels = 32;
// The taps are unrolled: at most this many vector multiply-adds in a
// kernel's code (LeNet-5's largest has 1140; a 7x7 kernel over 16 filters
// with padding 3 would have 4144, and LLVM's time grows with it).
constexpr int64_t kMaxUnrolledMultiplyAdds = 4096;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// A pass as a product over a zero-padded, staged tensor, stride 1:
///   forward and input gradient, for every output element:
///     out[n][o][y][x] = sum over c, i, j of staged[n][c][y + i][x + j] * weight(o, c, i, j)
///   weight gradient, for every weight element:
///     weight[o][c][i][j] = sum over n, y, x of grad[n][o][y][x] * staged[n][c][y + i][x + j]
/// where `staged` is the tensor `in` [N, channels, rows, cols] with `pad`
/// zeros around it, and weight(o, c, i, j) is element weight.offset +
/// o * w_stride[0] + c * w_stride[1] + i * w_stride[2] + j * w_stride[3].
/// `out` [N, filters, out[0], out[1]] is the result (or its gradient `grad`).
struct DirectProduct {
  ConvPass pass = ConvPass::forward;
  int64_t batch = 0, channels = 0, filters = 0;
  int64_t rows = 0, cols = 0;  // the staged tensor's image
  int64_t pad[2] = {0, 0};
  int64_t kernel[2] = {1, 1};
  int64_t out[2] = {0, 0};
  ConvOperand in, result, weight;
  int64_t w_stride[4] = {0, 0, 0, 0};
  /// Whether the cpu target generates the pass (planned_product).
  bool generated = false;

  int64_t staged_rows() const { return rows + 2 * pad[0]; }
  /// Vectors per row that a tile's sums run along: a row of `out` (output
  /// tiles); a staged row under the kernel's columns, out[1] + kernel[1] - 1
  /// (weight gradient).
  int64_t row_vectors(int lanes) const {
    return ceil_div(pass == ConvPass::weight_grad ? out[1] + kernel[1] - 1 : out[1], lanes);
  }
  /// Lanes of a row's last vector.
  int64_t tail(int lanes) const { return out[1] - (row_vectors(lanes) - 1) * lanes; }
  /// Floats per staged row: every vector a tap loads stays inside it.
  int64_t pitch(int lanes) const { return ceil_div(row_vectors(lanes) * lanes + kernel[1] - 1, lanes) * lanes; }
  /// The channels staged at once: all of an image's (output tiles), one
  /// (weight gradient).
  int64_t staged_channels() const { return pass == ConvPass::weight_grad ? 1 : channels; }
  int64_t stage_floats(int lanes) const { return staged_channels() * staged_rows() * pitch(lanes); }
  /// Weight gradient: one plane of the result's gradient, each row shifted
  /// right by kernel[1] - 1 zeros (rows `pitch` apart, as the image's), so
  /// that the row's product with every tap's column is an unaligned load away.
  int64_t grad_stage_floats(int lanes) const { return pass == ConvPass::weight_grad ? out[0] * pitch(lanes) : 0; }
  int64_t macs() const { return batch * filters * out[0] * out[1] * channels * kernel[0] * kernel[1]; }
};

DirectProduct direct_product(const ConvCall& c) {
  const ConvGeometry& g = c.geometry;
  const int64_t kh = g.kernel[0], kw = g.kernel[1];
  DirectProduct d;
  d.pass = c.pass;
  d.batch = g.batch;
  d.kernel[0] = kh, d.kernel[1] = kw;
  d.weight = c.weight;
  d.w_stride[0] = g.channels * kh * kw, d.w_stride[1] = kh * kw, d.w_stride[2] = kw, d.w_stride[3] = 1;
  d.channels = g.channels, d.filters = g.filters;
  d.rows = g.image[0], d.cols = g.image[1];
  d.pad[0] = g.pad[0], d.pad[1] = g.pad[1];
  d.out[0] = g.out[0], d.out[1] = g.out[1];
  d.in = c.image, d.result = c.result;
  if (c.pass == ConvPass::input_grad) {
    // dx[n][c][y][x] = sum over o, i, j of dy[n][o][y + p - i][x + p - j] * w[o][c][i][j]: with
    // i' = kh - 1 - i, the result's gradient padded by kh - 1 - p, filters
    // and channels swapped and the kernel read backwards.
    d.channels = g.filters, d.filters = g.channels;
    d.rows = g.out[0], d.cols = g.out[1];
    d.pad[0] = kh - 1 - g.pad[0], d.pad[1] = kw - 1 - g.pad[1];
    d.out[0] = g.image[0], d.out[1] = g.image[1];
    d.in = c.result, d.result = c.image;
    d.weight.offset += (kh - 1) * kw + (kw - 1);
    d.w_stride[0] = kh * kw, d.w_stride[1] = g.channels * kh * kw, d.w_stride[2] = -kw, d.w_stride[3] = -1;
  }
  return d;
}

/// Output tiles: filters per tile, the largest divisor of the filter count
/// whose accumulators (a row's vectors each) fit the registers.
int64_t tile_filters(const DirectProduct& d, int lanes) {
  for (int64_t f = d.filters; f >= 1; --f)
    if (d.filters % f == 0 && f * d.row_vectors(lanes) <= max_accumulators(lanes)) return f;
  return 0;
}

/// Weight gradient: kernel rows per tile (one accumulator per tap, which
/// sums all of a row's vectors).
int64_t tile_kernel_rows(const DirectProduct& d, int lanes) {
  return std::min(d.kernel[0], max_weight_accumulators(lanes) / d.kernel[1]);
}

/// Output tiles: runs of output rows [first, last) whose taps reach the
/// staged image (not its padding) from the same kernel rows [i_begin,
/// i_end). Kernel rows over the padding add zeros, so the rows near the
/// edges skip them (an input gradient's padding is kernel - 1 - pad: 29% of
/// LeNet-5's second one).
struct RowGroup {
  int64_t first, last, i_begin, i_end;
};
std::vector<RowGroup> row_groups(const DirectProduct& d) {
  auto kernel_rows = [&](int64_t y) {
    const int64_t begin = std::max<int64_t>(0, d.pad[0] - y);
    return std::make_pair(begin, std::max(begin, std::min(d.kernel[0], d.pad[0] + d.rows - y)));
  };
  std::vector<RowGroup> groups;
  for (int64_t first = 0; first < d.out[0];) {
    int64_t last = first + 1;
    while (last < d.out[0] && kernel_rows(last) == kernel_rows(first)) ++last;
    groups.push_back({first, last, kernel_rows(first).first, kernel_rows(first).second});
    first = last;
  }
  return groups;
}

/// The vector multiply-adds in the kernel's code.
int64_t unrolled_multiply_adds(const DirectProduct& d, int lanes) {
  if (d.pass == ConvPass::weight_grad) return d.kernel[0] * d.kernel[1] * d.row_vectors(lanes);
  int64_t taps = 0;
  for (const RowGroup& r : row_groups(d)) taps += (r.i_end - r.i_begin) * d.kernel[1];
  return taps * tile_filters(d, lanes) * d.row_vectors(lanes);
}

/// Whether the pass pays as a generated kernel on `lanes`-wide vectors:
/// rows that fill at least 3/4 of the lanes they take (a row of 10 on 16
/// lanes wastes 3/8 of every multiply-add), at least 4 accumulators per tile
/// to cover the multiply-add's latency, a stage that fits kMaxStageBytes,
/// and code within kMaxUnrolledMultiplyAdds.
bool pays(const DirectProduct& d, int lanes) {
  if (4 * d.out[1] < 3 * d.row_vectors(lanes) * lanes) return false;
  const int64_t accumulators = d.pass == ConvPass::weight_grad ? tile_kernel_rows(d, lanes) * d.kernel[1]
                                                               : tile_filters(d, lanes) * d.row_vectors(lanes);
  return accumulators >= 4 && (d.stage_floats(lanes) + d.grad_stage_floats(lanes)) * 4 <= kMaxStageBytes &&
         unrolled_multiply_adds(d, lanes) <= kMaxUnrolledMultiplyAdds;
}

/// `c` as the kernel computes it on `lanes`-wide vectors (not generated: a
/// library call).
DirectProduct planned_product(const ConvCall& c, int lanes) {
  const ConvGeometry& g = c.geometry;
  DirectProduct d = direct_product(c);
  if (lanes <= 0 || g.channels > kMaxChannels || g.filters > kMaxChannels) return d;
  for (int a = 0; a < 2; ++a)
    if (g.stride[a] != 1 || g.dilation[a] != 1 || g.pad[a] >= g.kernel[a]) return d;
  if (d.batch < 1 || d.out[0] < 1 || d.out[1] < 1) return d;
  d.generated = pays(d, lanes);
  return d;
}

/// The pieces both kernels are built from.
class ConvolutionEmitter {
 public:
  ConvolutionEmitter(llvm::Module& m, const DirectProduct& d, int lanes) : m_(m), b_(m.getContext()), d_(d), lanes_(lanes) {
    fl_ = b_.getFloatTy();
    vec_ = llvm::FixedVectorType::get(fl_, static_cast<unsigned>(lanes));
  }

  /// The kernel function, its operands, and the zeroed staging buffer.
  void begin(const std::string& name, int64_t range, int64_t work_per_item) {
    f_ = begin_kernel(m_, b_, name, range, work_per_item);
    in_ = b_.CreateConstInBoundsGEP1_64(fl_, buffer_address(b_, f_, d_.in.buffer), d_.in.offset);
    result_ = b_.CreateConstInBoundsGEP1_64(fl_, buffer_address(b_, f_, d_.result.buffer), d_.result.offset);
    weight_ = buffer_address(b_, f_, d_.weight.buffer);
    // The padding is zeroed once; every staging overwrites only the inside.
    stage_ = zeroed_floats(d_.stage_floats(lanes_), "stage");
  }

  /// `count` accumulators in the entry block, where LLVM keeps them in registers.
  std::vector<llvm::AllocaInst*> accumulators(int64_t count) {
    std::vector<llvm::AllocaInst*> acc(static_cast<size_t>(count));
    for (auto& a : acc) a = b_.CreateAlloca(vec_, nullptr, "acc");
    return acc;
  }

  void zero(const std::vector<llvm::AllocaInst*>& acc) {
    for (auto* a : acc) b_.CreateStore(llvm::ConstantAggregateZero::get(vec_), a);
  }

  /// acc += x * y, lane by lane.
  void multiply_add(llvm::AllocaInst* acc, llvm::Value* x, llvm::Value* y) {
    b_.CreateStore(b_.CreateIntrinsic(llvm::Intrinsic::fmuladd, {vec_}, {x, y, b_.CreateLoad(vec_, acc)}), acc);
  }

  /// Copies channels [first, first + count) of image n of `in` into the stage.
  void stage_image(llvm::Value* n, llvm::Value* first, int64_t count) {
    CountedLoop channel(b_, i64(0), i64(count), "stage_channel");
    llvm::Value* plane = b_.CreateAdd(b_.CreateMul(n, i64(d_.channels)), b_.CreateAdd(first, channel.index()));
    llvm::Value* to = b_.CreateAdd(b_.CreateMul(b_.CreateAdd(b_.CreateMul(channel.index(), i64(d_.staged_rows())),
                                                             i64(d_.pad[0])),
                                                i64(pitch())),
                                   i64(d_.pad[1]));
    stage_rows(b_.CreateInBoundsGEP(fl_, stage_, to), pitch(),
               b_.CreateInBoundsGEP(fl_, in_, b_.CreateMul(plane, i64(d_.rows * d_.cols))), d_.rows, d_.cols);
    channel.finish();
  }

  /// Copies `rows` dense rows of `cols` floats from `from` to `to`, `pitch` floats apart.
  void stage_rows(llvm::Value* to, int64_t pitch, llvm::Value* from, int64_t rows, int64_t cols) {
    CountedLoop row(b_, i64(0), i64(rows), "stage_row");
    // A copy of a constant size is a few vector moves, not a call.
    b_.CreateMemCpy(b_.CreateInBoundsGEP(fl_, to, b_.CreateMul(row.index(), i64(pitch))), llvm::Align(4),
                    b_.CreateInBoundsGEP(fl_, from, b_.CreateMul(row.index(), i64(cols))), llvm::Align(4),
                    i64(cols * 4));
    row.finish();
  }

  /// The vector of floats from element `at` of `base` (the stage by default).
  llvm::Value* staged(llvm::Value* at, llvm::Value* base = nullptr) {
    return b_.CreateAlignedLoad(vec_, b_.CreateInBoundsGEP(fl_, base ? base : stage_, at), llvm::Align(4));
  }

  /// Element (n, o, y, 0) of the result (or its gradient).
  llvm::Value* result_row(llvm::Value* n, llvm::Value* o, llvm::Value* y) {
    llvm::Value* row = b_.CreateAdd(b_.CreateMul(b_.CreateAdd(b_.CreateMul(n, i64(d_.filters)), o), i64(d_.out[0])), y);
    return b_.CreateInBoundsGEP(fl_, result_, b_.CreateMul(row, i64(d_.out[1])));
  }

  /// Stores vector v of the result row at `row` (the last only up to the row's end).
  void store_row_vector(llvm::Value* row, int64_t v, llvm::Value* value) {
    llvm::Value* at = b_.CreateConstInBoundsGEP1_64(fl_, row, static_cast<uint64_t>(v * lanes_));
    if (last_is_partial(v))
      b_.CreateMaskedStore(value, at, llvm::Align(4), tail_mask());
    else
      b_.CreateAlignedStore(value, at, llvm::Align(4));
  }

  /// Element weight(o, c, 0, 0) of the weight (DirectProduct's strides).
  llvm::Value* weight_index(llvm::Value* o, llvm::Value* c) {
    return b_.CreateAdd(b_.CreateAdd(i64(d_.weight.offset), b_.CreateMul(o, i64(d_.w_stride[0]))),
                        b_.CreateMul(c, i64(d_.w_stride[1])));
  }

  /// The weight scalar at element `at`, in every lane.
  llvm::Value* weight_splat(llvm::Value* at) {
    return b_.CreateVectorSplat(static_cast<unsigned>(lanes_), b_.CreateLoad(fl_, b_.CreateInBoundsGEP(fl_, weight_, at)));
  }
  void store_weight(llvm::Value* at, llvm::Value* value) { b_.CreateStore(value, b_.CreateInBoundsGEP(fl_, weight_, at)); }

  /// A zeroed, 64-byte aligned float array of `floats` in the entry block.
  llvm::AllocaInst* zeroed_floats(int64_t floats, const char* name) {
    llvm::AllocaInst* a = b_.CreateAlloca(llvm::ArrayType::get(fl_, static_cast<uint64_t>(floats)), nullptr, name);
    a->setAlignment(llvm::Align(64));
    b_.CreateMemSet(a, b_.getInt8(0), i64(floats * 4), llvm::Align(64));
    return a;
  }

  llvm::Value* i64(int64_t v) { return b_.getInt64(static_cast<uint64_t>(v)); }
  int64_t pitch() const { return d_.pitch(lanes_); }
  llvm::IRBuilder<>& b() { return b_; }
  const KernelFrame& frame() const { return f_; }
  llvm::Type* vec() const { return vec_; }

 private:
  bool last_is_partial(int64_t v) const { return v == d_.row_vectors(lanes_) - 1 && d_.tail(lanes_) < lanes_; }
  llvm::Constant* tail_mask() {
    std::vector<llvm::Constant*> bits;
    for (int64_t l = 0; l < lanes_; ++l) bits.push_back(b_.getInt1(l < d_.tail(lanes_)));
    return llvm::ConstantVector::get(bits);
  }

  llvm::Module& m_;
  llvm::IRBuilder<> b_;
  const DirectProduct& d_;
  int lanes_;
  llvm::Type* fl_ = nullptr;
  llvm::FixedVectorType* vec_ = nullptr;
  KernelFrame f_;
  llvm::Value* in_ = nullptr;
  llvm::Value* result_ = nullptr;
  llvm::Value* weight_ = nullptr;
  llvm::AllocaInst* stage_ = nullptr;
};

/// Forward and input gradient, over the images: for each output row, tiles
/// of filters_per_tile filters x the row's vectors, each tap's staged row
/// times a broadcast weight.
void emit_output_tiles(llvm::Module& m, const DirectProduct& d, const std::string& name, int lanes) {
  ConvolutionEmitter e(m, d, lanes);
  llvm::IRBuilder<>& b = e.b();
  const int64_t vectors = d.row_vectors(lanes), filters_per_tile = tile_filters(d, lanes);
  e.begin(name, d.batch, d.macs() / std::max<int64_t>(1, d.batch));
  std::vector<llvm::AllocaInst*> acc = e.accumulators(filters_per_tile * vectors);

  CountedLoop image(b, e.frame().begin, e.frame().end, "image");
  llvm::Value* n = image.index();
  e.stage_image(n, e.i64(0), d.channels);
  // Output rows [first, last), their taps from kernel rows [i_begin, i_end) (row_groups).
  auto emit_rows = [&](int64_t first, int64_t last, int64_t i_begin, int64_t i_end) {
    CountedLoop out_row(b, e.i64(first), e.i64(last), "out_row");
    CountedLoop tile(b, e.i64(0), e.i64(d.filters / filters_per_tile), "filter_tile");
    e.zero(acc);
    llvm::Value* first_filter = b.CreateMul(tile.index(), e.i64(filters_per_tile));
    {
      CountedLoop channel(b, e.i64(0), e.i64(d.channels), "channel");
      llvm::Value* row0 = b.CreateMul(b.CreateAdd(b.CreateMul(channel.index(), e.i64(d.staged_rows())), out_row.index()),
                                      e.i64(e.pitch()));
      llvm::Value* w0 = e.weight_index(first_filter, channel.index());
      std::vector<llvm::Value*> pixels(static_cast<size_t>(vectors));
      for (int64_t i = i_begin; i < i_end; ++i)
        for (int64_t j = 0; j < d.kernel[1]; ++j) {
          for (int64_t v = 0; v < vectors; ++v)
            pixels[v] = e.staged(b.CreateAdd(row0, e.i64(i * e.pitch() + j + v * lanes)));
          for (int64_t o = 0; o < filters_per_tile; ++o) {
            llvm::Value* w =
                e.weight_splat(b.CreateAdd(w0, e.i64(o * d.w_stride[0] + i * d.w_stride[2] + j * d.w_stride[3])));
            for (int64_t v = 0; v < vectors; ++v) e.multiply_add(acc[o * vectors + v], pixels[v], w);
          }
        }
      channel.finish();
    }
    for (int64_t o = 0; o < filters_per_tile; ++o) {
      llvm::Value* row = e.result_row(n, b.CreateAdd(first_filter, e.i64(o)), out_row.index());
      for (int64_t v = 0; v < vectors; ++v) e.store_row_vector(row, v, b.CreateLoad(e.vec(), acc[o * vectors + v]));
    }
    tile.finish();
    out_row.finish();
  };
  for (const RowGroup& r : row_groups(d)) emit_rows(r.first, r.last, r.i_begin, r.i_end);
  image.finish();
  b.CreateRetVoid();
}

/// Weight gradient, over the (filter, channel) pairs: one accumulator per
/// tap of a tile of kernel rows, summed over every image and result row.
/// With x' = x + j, tap (i, j) sums grad[y][x' - j] * staged[y + i][x']
/// over x', so a staged row is one load for all its taps and a shifted
/// gradient row one load for all kernel rows; each accumulator's lanes are
/// added in order at the end.
void emit_weight_gradient(llvm::Module& m, const DirectProduct& d, const std::string& name, int lanes) {
  ConvolutionEmitter e(m, d, lanes);
  llvm::IRBuilder<>& b = e.b();
  const int64_t vectors = d.row_vectors(lanes), kw = d.kernel[1], rows_per_tile = tile_kernel_rows(d, lanes);
  e.begin(name, d.filters * d.channels, d.macs() / (d.filters * d.channels));
  std::vector<llvm::AllocaInst*> acc = e.accumulators(rows_per_tile * kw);
  // The gradient's rows start kw - 1 floats in, after zeros.
  llvm::AllocaInst* grad_stage = e.zeroed_floats(d.grad_stage_floats(lanes), "grad_stage");

  CountedLoop pair(b, e.frame().begin, e.frame().end, "filter_channel");
  llvm::Value* o = b.CreateUDiv(pair.index(), e.i64(d.channels));
  llvm::Value* c = b.CreateURem(pair.index(), e.i64(d.channels));
  std::vector<llvm::Value*> grad(static_cast<size_t>(kw));
  for (int64_t first_row = 0; first_row < d.kernel[0]; first_row += rows_per_tile) {
    const int64_t rows = std::min(rows_per_tile, d.kernel[0] - first_row);
    e.zero(acc);
    CountedLoop image(b, e.i64(0), e.i64(d.batch), "image");
    e.stage_image(image.index(), c, 1);
    e.stage_rows(b.CreateConstInBoundsGEP1_64(b.getFloatTy(), grad_stage, static_cast<uint64_t>(kw - 1)), e.pitch(),
                 e.result_row(image.index(), o, e.i64(0)), d.out[0], d.out[1]);
    CountedLoop out_row(b, e.i64(0), e.i64(d.out[0]), "out_row");
    llvm::Value* grad_row = b.CreateMul(out_row.index(), e.i64(e.pitch()));
    llvm::Value* row0 = b.CreateMul(b.CreateAdd(out_row.index(), e.i64(first_row)), e.i64(e.pitch()));
    for (int64_t v = 0; v < vectors; ++v) {
      for (int64_t j = 0; j < kw; ++j)
        grad[j] = e.staged(b.CreateAdd(grad_row, e.i64(kw - 1 - j + v * lanes)), grad_stage);
      for (int64_t i = 0; i < rows; ++i) {
        llvm::Value* pixels = e.staged(b.CreateAdd(row0, e.i64(i * e.pitch() + v * lanes)));
        for (int64_t j = 0; j < kw; ++j) e.multiply_add(acc[i * kw + j], grad[j], pixels);
      }
    }
    out_row.finish();
    image.finish();
    llvm::Value* w0 = e.weight_index(o, c);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < kw; ++j) {
        llvm::Value* lanes_sum =
            b.CreateFAddReduce(llvm::ConstantFP::get(b.getFloatTy(), 0.0), b.CreateLoad(e.vec(), acc[i * kw + j]));
        e.store_weight(b.CreateAdd(w0, e.i64((first_row + i) * d.w_stride[2] + j * d.w_stride[3])), lanes_sum);
      }
  }
  pair.finish();
  b.CreateRetVoid();
}

}  // namespace

int convolution_lanes(const std::vector<std::string>& features) {
  auto has = [&](const char* f) { return std::find(features.begin(), features.end(), f) != features.end(); };
  if (has("avx512f")) return 16;
  if (has("avx2") && has("fma")) return 8;
  return 0;
}

bool generates_convolution(const ConvCall& c, int lanes) { return planned_product(c, lanes).generated; }

void choose_generated_convolutions(std::vector<Program>& programs, int lanes) {
  for (Program& p : programs)
    for (Step& s : p.steps)
      if (auto* c = std::get_if<ConvCall>(&s.body)) c->generated = generates_convolution(*c, lanes);
}

void emit_convolution_kernel(llvm::Module& m, const ConvCall& c, const std::string& name, int lanes) {
  const DirectProduct d = planned_product(c, lanes);
  if (!d.generated)
    throw std::logic_error("emit_convolution_kernel: " + name + " is not a convolution the cpu target generates");
  if (c.pass == ConvPass::weight_grad)
    emit_weight_gradient(m, d, name, lanes);
  else
    emit_output_tiles(m, d, name, lanes);
}

}  // namespace dlc::cpu
