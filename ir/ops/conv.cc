// Convolution and pooling over NCHW images: the window primitives
// extract_patches and fold_patches; the convolution's three passes as
// library calls (conv2d_forward, conv2d_input_grad, conv2d_weight_grad,
// Lowering::convolution); and the composites conv2d, max_pool2d and
// avg_pool2d built from them.
//
// conv2d is conv2d_forward plus its bias. Each pass is linear in each of its
// inputs, so its gradients are the other passes (grad_pass), and a train
// step runs three library calls per convolution: on cpu oneDNN's
// primitives, which on LeNet-5's second convolution at batch 128 took 3.3
// ms for all three passes against 9.8 ms for im2col + GEMM + col2im
// (bench/onednn_conv, session 11). A target without a convolution library
// (cuda) expands each pass into im2col + GEMM first (expand_composites with
// convolutions_as_gemm): extract_patches lays every output position's
// receptive field out as one row ([N,OH,OW,C,KH,KW], so the rows reshape to
// an [N*OH*OW, C*KH*KW] matrix without a copy), one matmul with the
// [O, C*KH*KW] weights gives [N*OH*OW, O], and a transpose makes it NCHW;
// the gradients are fold_patches (col2im) of a GEMM and a GEMM over the
// patches. Pooling reduces the same patches over their last two axes, and
// its gradient comes from the primitives' rules: extract_patches' gradient
// is fold_patches, and fold_patches' is extract_patches.
//
// Both window primitives lower to window loops (Lowering::window): guarded
// affine reads, the padding a read outside the image. fold_patches with
// stride s runs as s x s loops, one per output phase (h mod s, w mod s), so
// that each phase's taps are an affine range and no output element is
// written twice.
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

#include "ir/builder.h"
#include "ir/convolution.h"
#include "ir/op_registry.h"

namespace dlc {
namespace {

/// The geometry of a 2-D window: kernel, stride, padding (both sides) and
/// dilation, each [height, width].
struct Window2d {
  int64_t k[2] = {1, 1}, s[2] = {1, 1}, p[2] = {0, 0}, d[2] = {1, 1};

  /// Output positions along axis `a` of an input of size `size`.
  int64_t out_size(int a, int64_t size) const { return (size + 2 * p[a] - d[a] * (k[a] - 1) - 1) / s[a] + 1; }
};

/// Reads a two-element ints attribute, or `fallback` when absent; "" or the error.
std::string pair_attr(const Node& n, const char* key, int64_t lo, int64_t out[2], const int64_t fallback[2]) {
  if (!n.has_attr(key)) {
    out[0] = fallback[0];
    out[1] = fallback[1];
    return "";
  }
  std::vector<int64_t> v = n.attr_ints(key);
  if (v.size() != 2 || v[0] < lo || v[1] < lo) {
    std::string got;
    for (int64_t x : v) got += (got.empty() ? "" : ",") + std::to_string(x);
    return std::string(key) + " must be two integers >= " + std::to_string(lo) + " ([height, width]), got [" + got +
           "]";
  }
  out[0] = v[0];
  out[1] = v[1];
  return "";
}

/// The window of a node: `kernel` from the attribute (pooling, patches) or
/// from the weight's dims (conv2d); strides default to 1, or to the kernel
/// for pooling.
std::string read_window(const Node& n, const int64_t* kernel, bool stride_is_kernel, Window2d* w) {
  const int64_t ones[2] = {1, 1}, zeros[2] = {0, 0};
  std::string e;
  if (kernel) {
    w->k[0] = kernel[0];
    w->k[1] = kernel[1];
  } else if (!n.has_attr("kernel")) {
    return "attribute 'kernel' ([height, width]) is required";
  } else if (!(e = pair_attr(n, "kernel", 1, w->k, ones)).empty()) {
    return e;
  }
  if (!(e = pair_attr(n, "strides", 1, w->s, stride_is_kernel ? w->k : ones)).empty()) return e;
  if (!(e = pair_attr(n, "pads", 0, w->p, zeros)).empty()) return e;
  return pair_attr(n, "dilations", 1, w->d, ones);
}

std::string shape_text(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

/// Output height and width of `w` over an image of `h` x `wd`, or an error.
std::string out_hw(const Window2d& w, int64_t h, int64_t wd, int64_t* oh, int64_t* ow) {
  *oh = w.out_size(0, h);
  *ow = w.out_size(1, wd);
  if (h + 2 * w.p[0] < w.d[0] * (w.k[0] - 1) + 1 || wd + 2 * w.p[1] < w.d[1] * (w.k[1] - 1) + 1)
    return "window " + std::to_string(w.d[0] * (w.k[0] - 1) + 1) + "x" + std::to_string(w.d[1] * (w.k[1] - 1) + 1) +
           " (kernel with dilation) is larger than the padded image " + std::to_string(h + 2 * w.p[0]) + "x" +
           std::to_string(wd + 2 * w.p[1]);
  return "";
}

proto::AttrValue pair(const int64_t v[2]) { return attr_ints({v[0], v[1]}); }

/// A convolution's window attributes (its kernel comes from the weight).
Attrs conv_attrs(const Window2d& w) { return {{"strides", pair(w.s)}, {"pads", pair(w.p)}, {"dilations", pair(w.d)}}; }

Attrs window_attrs(const Window2d& w) {
  Attrs a = conv_attrs(w);
  a["kernel"] = pair(w.k);
  return a;
}

std::string need_image(const TensorType& x, const char* what) {
  if (x.rank() != 4) return std::string(what) + " must be a 4-D NCHW image batch, got " + x.str();
  if (!is_float(x.dtype)) return std::string(what) + " must be float, got " + x.str();
  return "";
}

// --- extract_patches ------------------------------------------------------------

std::string infer_extract_patches(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  Window2d w;
  std::string e = need_image(in[0], "input");
  if (e.empty()) e = read_window(n, nullptr, false, &w);
  if (e.empty() && std::isnan(n.attr_float("pad_value", 0.0))) e = "pad_value is NaN";
  const auto& x = in[0].dims;
  int64_t oh = 0, ow = 0;
  if (e.empty()) e = out_hw(w, x[2], x[3], &oh, &ow);
  if (!e.empty()) return e;
  out->push_back({in[0].dtype, {x[0], oh, ow, x[1], w.k[0], w.k[1]}});
  return "";
}

/// Calls f(n, oh, ow, c, i, j, h, w) for every patch element and the image
/// coordinates it reads (possibly outside the image).
template <typename F>
void for_each_tap(const Window2d& w, const std::vector<int64_t>& img, int64_t oh_n, int64_t ow_n, F f) {
  for (int64_t n = 0; n < img[0]; ++n)
    for (int64_t oh = 0; oh < oh_n; ++oh)
      for (int64_t ow = 0; ow < ow_n; ++ow)
        for (int64_t c = 0; c < img[1]; ++c)
          for (int64_t i = 0; i < w.k[0]; ++i)
            for (int64_t j = 0; j < w.k[1]; ++j)
              f(n, oh, ow, c, i, j, oh * w.s[0] + i * w.d[0] - w.p[0], ow * w.s[1] + j * w.d[1] - w.p[1]);
}

int64_t image_index(const std::vector<int64_t>& img, int64_t n, int64_t c, int64_t h, int64_t w) {
  return ((n * img[1] + c) * img[2] + h) * img[3] + w;
}

bool inside(const std::vector<int64_t>& img, int64_t h, int64_t w) { return h >= 0 && h < img[2] && w >= 0 && w < img[3]; }

/// True when the windows tile the image exactly: stride = kernel, no
/// padding or dilation, and the image a whole number of windows (2x2
/// pooling of an even image). `oh`, `ow`: the output's height and width.
bool windows_tile_image(const Window2d& w, const std::vector<int64_t>& img, int64_t oh, int64_t ow) {
  const int64_t out[2] = {oh, ow};
  for (int a = 0; a < 2; ++a)
    if (w.s[a] != w.k[a] || w.p[a] != 0 || w.d[a] != 1 || out[a] * w.k[a] != img[2 + a]) return false;
  return true;
}

void eval_extract_patches(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                          const EvalContext&) {
  Window2d w;
  read_window(n, nullptr, false, &w);
  const Tensor& x = *in[0];
  const auto& img = x.type.dims;
  double pad = n.attr_float("pad_value", 0.0);
  int64_t e = 0;
  for_each_tap(w, img, out[0].type.dims[1], out[0].type.dims[2],
               [&](int64_t b, int64_t, int64_t, int64_t c, int64_t, int64_t, int64_t h, int64_t wd) {
                 out[0][e++] = inside(img, h, wd) ? x[image_index(img, b, c, h, wd)] : pad;
               });
}

std::vector<std::string> grad_extract_patches(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  Window2d w;
  read_window(n, nullptr, false, &w);
  const auto& img = b.type(n.inputs[0]).dims;
  const auto& patches = b.type(n.outputs[0]).dims;  // [N, OH, OW, C, KH, KW]
  if (windows_tile_image(w, img, patches[1], patches[2])) {
    // Every pixel is in exactly one window, so the fold is a permutation:
    // [N, OH, OW, C, KH, KW] seen as [N, C, OH, KH, OW, KW] is the image in
    // order. As views, the loop that makes the patches' gradient (max
    // pooling's mask times dy) writes the image's gradient itself and fuses
    // with what reads it (the activation's gradient): no fold kernel.
    std::string t = b.op("transpose", {dy[0]}, {{"perm", attr_ints({0, 3, 1, 4, 2, 5})}});
    return {b.reshape(t, img)};
  }
  Attrs a = window_attrs(w);
  a["image"] = attr_ints({img[2], img[3]});
  return {b.op("fold_patches", {dy[0]}, a)};
}

/// One loop over the patches: element (n, oh, ow, c, i, j) reads image
/// element (n, c, oh*s + i*d - p, ow*s + j*d - p), the pad outside.
std::vector<WindowLoop> window_extract_patches(const Node& n, const std::vector<int64_t>&,
                                               const std::vector<int64_t>& out_dims) {
  Window2d w;
  read_window(n, nullptr, false, &w);
  auto unit = [](int d) {
    std::vector<int64_t> c(6, 0);
    c[d] = 1;
    return c;
  };
  WindowLoop l;
  l.dims = out_dims;
  std::vector<int64_t> h(6, 0), wd(6, 0);
  h[1] = w.s[0];
  h[4] = w.d[0];
  wd[2] = w.s[1];
  wd[5] = w.d[1];
  l.in = {{0, unit(0)}, {0, unit(3)}, {-w.p[0], h}, {-w.p[1], wd}};
  l.pad = n.attr_float("pad_value", 0.0);
  for (int d = 0; d < 6; ++d) l.out.push_back({0, unit(d)});
  return {l};
}

OpDef extract_patches_op() {
  OpDef d;
  d.name = "extract_patches";
  d.attrs = {{"kernel", AttrKind::ints, true},
             {"strides", AttrKind::ints},
             {"pads", AttrKind::ints},
             {"dilations", AttrKind::ints},
             {"pad_value", AttrKind::f}};
  d.infer = infer_extract_patches;
  d.eval = eval_extract_patches;
  d.grad = grad_extract_patches;
  d.lowering = Lowering::window;
  d.window = window_extract_patches;
  d.doc = "im2col: x [N,C,H,W] -> [N,OH,OW,C,KH,KW], each output position's window (kernel, strides, pads, "
          "dilations), pad_value (default 0) outside the image";
  return d;
}

// --- fold_patches ---------------------------------------------------------------

std::string infer_fold_patches(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  const TensorType& p = in[0];
  if (p.rank() != 6 || !is_float(p.dtype))
    return "input must be float patches [N,OH,OW,C,KH,KW], got " + p.str();
  Window2d w;
  std::string e = read_window(n, nullptr, false, &w);
  if (!e.empty()) return e;
  if (!n.has_attr("image")) return "attribute 'image' ([height, width] of the result) is required";
  int64_t img[2];
  const int64_t none[2] = {0, 0};
  if (!(e = pair_attr(n, "image", 1, img, none)).empty()) return e;
  int64_t oh = 0, ow = 0;
  if (!(e = out_hw(w, img[0], img[1], &oh, &ow)).empty()) return e;
  if (p.dims[1] != oh || p.dims[2] != ow || p.dims[4] != w.k[0] || p.dims[5] != w.k[1])
    return "patches " + p.str() + " do not fit a " + std::to_string(img[0]) + "x" + std::to_string(img[1]) +
           " image: its windows are [N," + std::to_string(oh) + "," + std::to_string(ow) + ",C," +
           std::to_string(w.k[0]) + "," + std::to_string(w.k[1]) + "]";
  out->push_back({p.dtype, {p.dims[0], p.dims[3], img[0], img[1]}});
  return "";
}

void eval_fold_patches(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out,
                       const EvalContext&) {
  Window2d w;
  read_window(n, nullptr, false, &w);
  const Tensor& p = *in[0];
  Tensor& y = out[0];
  const auto& img = y.type.dims;
  for (double& v : y.data) v = 0;
  int64_t e = 0;
  for_each_tap(w, img, p.type.dims[1], p.type.dims[2],
               [&](int64_t b, int64_t, int64_t, int64_t c, int64_t, int64_t, int64_t h, int64_t wd) {
                 double v = p[e++];
                 if (inside(img, h, wd)) y[image_index(img, b, c, h, wd)] += v;
               });
}

std::vector<std::string> grad_fold_patches(GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) {
  Window2d w;
  read_window(n, nullptr, false, &w);
  return {b.op("extract_patches", {dy[0]}, window_attrs(w))};
}

/// The taps of one output phase along one axis: output rows h = r + s*q
/// receive patch rows i = first + step*t (t < count) from window position
/// oh = base + q - shift*t; count 0 when none does.
struct PhaseTaps {
  int64_t first = 0, step = 1, count = 0, base = 0, shift = 0;
};

PhaseTaps phase_taps(const Window2d& w, int a, int64_t r) {
  PhaseTaps t;
  // Image row h = oh*s + i*d - p, so i contributes to phase r when
  // r + p - i*d is a multiple of s; those i step by s / gcd(s, d).
  t.step = w.s[a] / std::gcd(w.s[a], w.d[a]);
  t.first = -1;
  for (int64_t i = 0; i < std::min(t.step, w.k[a]); ++i)
    if (((r + w.p[a] - i * w.d[a]) % w.s[a] + w.s[a]) % w.s[a] == 0) {
      t.first = i;
      break;
    }
  if (t.first < 0) return t;
  t.count = (w.k[a] - 1 - t.first) / t.step + 1;
  int64_t num = r + w.p[a] - t.first * w.d[a];  // a multiple of s, possibly negative
  t.base = num >= 0 ? num / w.s[a] : -((-num) / w.s[a]);
  t.shift = t.step * w.d[a] / w.s[a];
  return t;
}

/// A coordinate over a window loop's 6 dims: `offset` plus coefficient k
/// of each listed loop dim d.
WindowCoord window_coord(int64_t offset, std::initializer_list<std::pair<int, int64_t>> terms) {
  WindowCoord c{offset, std::vector<int64_t>(6, 0)};
  for (auto [d, k] : terms) c.coefs[d] = k;
  return c;
}

/// Windows that tile the image exactly (stride = kernel, no padding or
/// dilation, the image a whole number of windows: 2x2 pooling of an even
/// image) read every pixel once, so their fold is a permutation: one loop
/// over [N, C, OH, KH, OW, KW], which is the image [N, C, H, W] in order,
/// each element copied from its one patch element. (The phase loops below
/// would take s x s passes, each writing every s-th column.)
std::optional<WindowLoop> tiling_fold(const Window2d& w, const std::vector<int64_t>& in_dims,
                                      const std::vector<int64_t>& out_dims) {
  if (!windows_tile_image(w, out_dims, in_dims[1], in_dims[2])) return std::nullopt;
  auto coord = [](std::initializer_list<std::pair<int, int64_t>> terms) { return window_coord(0, terms); };
  WindowLoop l;
  l.dims = {out_dims[0], out_dims[1], in_dims[1], w.k[0], in_dims[2], w.k[1]};
  // patch element (n, oh, ow, c, i, j) lands on pixel (n, c, oh*KH + i, ow*KW + j)
  l.in = {coord({{0, 1}}), coord({{2, 1}}), coord({{4, 1}}), coord({{1, 1}}), coord({{3, 1}}), coord({{5, 1}})};
  l.out = {coord({{0, 1}}), coord({{1, 1}}), coord({{2, w.k[0]}, {3, 1}}), coord({{4, w.k[1]}, {5, 1}})};
  return l;
}

/// One loop per output phase (h mod s, w mod s), summing that phase's taps:
/// a loop over [N, C, H/s, W/s, taps_h, taps_w] reducing the taps.
std::vector<WindowLoop> window_fold_patches(const Node& n, const std::vector<int64_t>& in_dims,
                                            const std::vector<int64_t>& out_dims) {
  Window2d w;
  read_window(n, nullptr, false, &w);
  if (std::optional<WindowLoop> tiled = tiling_fold(w, in_dims, out_dims)) return {*tiled};
  std::vector<WindowLoop> loops;
  for (int64_t rh = 0; rh < w.s[0]; ++rh)
    for (int64_t rw = 0; rw < w.s[1]; ++rw) {
      int64_t qh = (out_dims[2] - rh + w.s[0] - 1) / w.s[0], qw = (out_dims[3] - rw + w.s[1] - 1) / w.s[1];
      if (qh <= 0 || qw <= 0) continue;  // the image is smaller than the stride
      PhaseTaps th = phase_taps(w, 0, rh), tw = phase_taps(w, 1, rw);
      WindowLoop l;
      l.dims = {out_dims[0], out_dims[1], qh, qw, std::max<int64_t>(th.count, 1), std::max<int64_t>(tw.count, 1)};
      l.reduce_dims = 2;
      auto coord = window_coord;
      // A phase no tap reaches reads a patch row past the kernel: always
      // out of range, so it sums the pad (0).
      WindowCoord i = th.count ? coord(th.first, {{4, th.step}}) : coord(in_dims[4], {});
      WindowCoord j = tw.count ? coord(tw.first, {{5, tw.step}}) : coord(in_dims[5], {});
      l.in = {coord(0, {{0, 1}}), coord(th.base, {{2, 1}, {4, -th.shift}}), coord(tw.base, {{3, 1}, {5, -tw.shift}}),
              coord(0, {{1, 1}}), i, j};
      l.out = {coord(0, {{0, 1}}), coord(0, {{1, 1}}), coord(rh, {{2, w.s[0]}}), coord(rw, {{3, w.s[1]}})};
      loops.push_back(l);
    }
  return loops;
}

OpDef fold_patches_op() {
  OpDef d;
  d.name = "fold_patches";
  d.attrs = {{"kernel", AttrKind::ints, true},
             {"strides", AttrKind::ints},
             {"pads", AttrKind::ints},
             {"dilations", AttrKind::ints},
             {"image", AttrKind::ints, true}};
  d.infer = infer_fold_patches;
  d.eval = eval_fold_patches;
  d.grad = grad_fold_patches;
  d.lowering = Lowering::window;
  d.window = window_fold_patches;
  d.doc = "col2im, the adjoint of extract_patches: patches [N,OH,OW,C,KH,KW] summed back into an [N,C,H,W] "
          "image (image = [H,W]); taps outside the image are dropped";
  return d;
}

// --- conv2d ---------------------------------------------------------------------

std::string infer_conv2d(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  const TensorType &x = in[0], &wt = in[1];
  std::string e = need_image(x, "input");
  if (!e.empty()) return e;
  if (wt.rank() != 4 || wt.dtype != x.dtype)
    return "weight must be [O,C,KH,KW] of the input's dtype, got " + wt.str() + " for input " + x.str();
  if (wt.dims[1] != x.dims[1])
    return "weight " + wt.str() + " expects " + std::to_string(wt.dims[1]) + " input channels, input " + x.str() +
           " has " + std::to_string(x.dims[1]);
  if (in.size() == 3 && (in[2].rank() != 1 || in[2].dims[0] != wt.dims[0] || in[2].dtype != x.dtype))
    return "bias must be [" + std::to_string(wt.dims[0]) + "] of the input's dtype, got " + in[2].str();
  Window2d w;
  int64_t k[2] = {wt.dims[2], wt.dims[3]};
  if (!(e = read_window(n, k, false, &w)).empty()) return e;
  int64_t oh = 0, ow = 0;
  if (!(e = out_hw(w, x.dims[2], x.dims[3], &oh, &ow)).empty()) return e;
  out->push_back({x.dtype, {x.dims[0], wt.dims[0], oh, ow}});
  return "";
}

Window2d conv_window(const Node& n, const std::vector<int64_t>& weight) {
  Window2d w;
  int64_t k[2] = {weight[2], weight[3]};
  read_window(n, k, false, &w);
  return w;
}

/// The geometry of a convolution from its window and the image, weight and
/// result dims ([N,C,H,W], [O,C,KH,KW], [N,O,OH,OW]).
ConvGeometry make_geometry(const Window2d& w, const std::vector<int64_t>& img, int64_t filters,
                           const std::vector<int64_t>& result) {
  ConvGeometry g;
  g.batch = img[0];
  g.channels = img[1];
  g.filters = filters;
  for (int a = 0; a < 2; ++a) {
    g.image[a] = img[2 + a];
    g.kernel[a] = w.k[a];
    g.out[a] = result[2 + a];
    g.stride[a] = w.s[a];
    g.pad[a] = w.p[a];
    g.dilation[a] = w.d[a];
  }
  return g;
}

/// The window of a convolution pass: the kernel from the weight (forward,
/// input_grad) or from the `kernel` attribute (weight_grad).
Window2d pass_window(const Node& n, ConvPass pass, const std::vector<std::vector<int64_t>>& in) {
  if (pass == ConvPass::weight_grad) {
    Window2d w;
    read_window(n, nullptr, false, &w);
    return w;
  }
  return conv_window(n, in[1]);
}

/// The geometry of node `n` computing `pass` over inputs of dims `in`.
ConvGeometry pass_geometry(const Node& n, ConvPass pass, const std::vector<std::vector<int64_t>>& in) {
  Window2d w = pass_window(n, pass, in);
  switch (pass) {
    case ConvPass::forward: {
      int64_t oh = w.out_size(0, in[0][2]), ow = w.out_size(1, in[0][3]);
      return make_geometry(w, in[0], in[1][0], {in[0][0], in[1][0], oh, ow});
    }
    case ConvPass::input_grad: {  // dy, w; the image's size is an attribute
      std::vector<int64_t> hw = n.attr_ints("image");
      return make_geometry(w, {in[0][0], in[1][1], hw[0], hw[1]}, in[1][0], in[0]);
    }
    case ConvPass::weight_grad: return make_geometry(w, in[0], in[1][1], in[1]);  // x, dy
  }
  return {};
}

/// Directly from the definition (PyTorch's conv2d, a cross-correlation).
void eval_conv2d(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out, const EvalContext&) {
  const Tensor &x = *in[0], &wt = *in[1];
  Tensor& y = out[0];
  ConvGeometry g = make_geometry(conv_window(n, wt.type.dims), x.type.dims, wt.type.dims[0], y.type.dims);
  for (double& v : y.data) v = 0;
  for_each_conv_product(g, [&](int64_t xi, int64_t wi, int64_t yi) { y[yi] += x[xi] * wt[wi]; });
  if (in.size() == 3) {
    const int64_t positions = g.out[0] * g.out[1];
    for (int64_t e = 0; e < y.numel(); ++e) y[e] += (*in[2])[(e / positions) % g.filters];
  }
}

/// conv2d is conv2d_forward plus the bias, broadcast over the positions (an
/// element-wise add that fuses with what follows, the activation).
std::vector<std::string> expand_conv2d(GraphBuilder& b, const Node& n) {
  Window2d w = conv_window(n, b.type(n.inputs[1]).dims);
  std::string y = b.op("conv2d_forward", {n.inputs[0], n.inputs[1]}, conv_attrs(w));
  if (n.inputs.size() == 3) y = b.add(y, b.reshape(n.inputs[2], {b.type(n.inputs[1]).dims[0], 1, 1}));
  return {y};
}

OpDef conv2d_op() {
  OpDef d;
  d.name = "conv2d";
  d.min_inputs = 2;
  d.max_inputs = 3;
  d.attrs = {{"strides", AttrKind::ints}, {"pads", AttrKind::ints}, {"dilations", AttrKind::ints}};
  d.infer = infer_conv2d;
  d.eval = eval_conv2d;
  d.lowering = Lowering::expansion;
  d.expand = expand_conv2d;
  d.doc = "2-D convolution (cross-correlation, as PyTorch): x [N,C,H,W], weight [O,C,KH,KW], optional bias [O] -> "
          "[N,O,OH,OW]; strides, pads (zeros, both sides), dilations ([h,w], default [1,1], [0,0], [1,1]); "
          "conv2d_forward plus the bias";
  return d;
}

// --- the convolution library calls ------------------------------------------------

/// The image [N,C,H,W], weight [O,C,KH,KW] and result [N,O,OH,OW] of a pass
/// from its inputs' types (the written one from the node's attributes),
/// checked against one another; "" or the error.
std::string pass_types(const Node& n, ConvPass pass, const std::vector<TensorType>& in, TensorType* written) {
  const TensorType& a = in[0];
  const TensorType& b = in[1];
  std::string e;
  Window2d w;
  if (pass == ConvPass::forward) {
    std::vector<TensorType> out;
    e = infer_conv2d(n, in, &out);
    if (e.empty()) *written = out[0];
    return e;
  }
  const TensorType& dy = pass == ConvPass::input_grad ? a : b;
  if (dy.rank() != 4 || !is_float(dy.dtype))
    return "the result's gradient must be a 4-D float [N,O,OH,OW], got " + dy.str();
  if (pass == ConvPass::input_grad) {
    if (b.rank() != 4 || b.dtype != dy.dtype || b.dims[0] != dy.dims[1])
      return "weight must be [O,C,KH,KW] of the gradient's dtype with O = " + std::to_string(dy.dims[1]) + ", got " +
             b.str() + " for gradient " + dy.str();
    int64_t k[2] = {b.dims[2], b.dims[3]}, img[2];
    const int64_t none[2] = {0, 0};
    if (!(e = read_window(n, k, false, &w)).empty()) return e;
    if (!n.has_attr("image")) return "attribute 'image' ([height, width] of the result) is required";
    if (!(e = pair_attr(n, "image", 1, img, none)).empty()) return e;
    *written = {dy.dtype, {dy.dims[0], b.dims[1], img[0], img[1]}};
  } else {
    if (!(e = need_image(a, "input")).empty()) return e;
    if (dy.dtype != a.dtype || dy.dims[0] != a.dims[0])
      return "the result's gradient " + dy.str() + " must have the input's dtype and batch, input " + a.str();
    if (!(e = read_window(n, nullptr, false, &w)).empty()) return e;
    *written = {a.dtype, {dy.dims[1], a.dims[1], w.k[0], w.k[1]}};
  }
  const TensorType& img = pass == ConvPass::input_grad ? *written : a;
  int64_t oh = 0, ow = 0;
  if (!(e = out_hw(w, img.dims[2], img.dims[3], &oh, &ow)).empty()) return e;
  if (dy.dims[2] != oh || dy.dims[3] != ow)
    return "the result's gradient " + dy.str() + " does not fit the image " + img.str() + ": its windows are " +
           std::to_string(oh) + "x" + std::to_string(ow);
  return "";
}

ShapeFn infer_pass(ConvPass pass) {
  return [pass](const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
    TensorType t;
    std::string e = pass_types(n, pass, in, &t);
    if (e.empty()) out->push_back(t);
    return e;
  };
}

std::vector<std::vector<int64_t>> dims_of(const std::vector<const Tensor*>& in) {
  std::vector<std::vector<int64_t>> d;
  for (const Tensor* t : in) d.push_back(t->type.dims);
  return d;
}

RefKernel eval_pass(ConvPass pass) {
  return [pass](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out, const EvalContext&) {
    ConvGeometry g = pass_geometry(n, pass, dims_of(in));
    const Tensor &a = *in[0], &b = *in[1];
    Tensor& r = out[0];
    for (double& v : r.data) v = 0;
    switch (pass) {
      case ConvPass::forward:  // x, w -> y
        for_each_conv_product(g, [&](int64_t x, int64_t w, int64_t y) { r[y] += a[x] * b[w]; });
        break;
      case ConvPass::input_grad:  // dy, w -> dx
        for_each_conv_product(g, [&](int64_t x, int64_t w, int64_t y) { r[x] += a[y] * b[w]; });
        break;
      case ConvPass::weight_grad:  // x, dy -> dw
        for_each_conv_product(g, [&](int64_t x, int64_t w, int64_t y) { r[w] += a[x] * b[y]; });
        break;
    }
    round_to_dtype(r);
  };
}

/// Each pass is linear in each input, so every gradient is another pass:
/// <g, conv(x, w)> is <input_grad(g, w), x> and <weight_grad(x, g), w>.
GradFn grad_pass(ConvPass pass) {
  return [pass](GraphBuilder& b, const Node& n, const std::vector<std::string>& dy) -> std::vector<std::string> {
    std::vector<std::vector<int64_t>> in = {b.type(n.inputs[0]).dims, b.type(n.inputs[1]).dims};
    ConvGeometry geo = pass_geometry(n, pass, in);
    Window2d w = pass_window(n, pass, in);
    Attrs with_image = conv_attrs(w);
    with_image["image"] = attr_ints({geo.image[0], geo.image[1]});
    const Attrs with_kernel = window_attrs(w), forward = conv_attrs(w);
    const std::string &a = n.inputs[0], &c = n.inputs[1], &g = dy[0];
    switch (pass) {
      case ConvPass::forward:  // (x, w)
        return {b.op("conv2d_input_grad", {g, c}, with_image), b.op("conv2d_weight_grad", {a, g}, with_kernel)};
      case ConvPass::input_grad:  // (dy, w), g like x
        return {b.op("conv2d_forward", {g, c}, forward), b.op("conv2d_weight_grad", {g, a}, with_kernel)};
      case ConvPass::weight_grad:  // (x, dy), g like w
        return {b.op("conv2d_input_grad", {c, g}, with_image), b.op("conv2d_forward", {a, g}, forward)};
    }
    return {};
  };
}

/// [N,C,H,W] -> the rows [N*OH*OW, C*KH*KW] of its patches.
std::string patch_rows(GraphBuilder& b, const std::string& x, const Window2d& w) {
  std::string cols = b.op("extract_patches", {x}, window_attrs(w));
  const auto& cd = b.type(cols).dims;  // [N,OH,OW,C,KH,KW]
  return b.reshape(cols, {cd[0] * cd[1] * cd[2], cd[3] * cd[4] * cd[5]});
}

/// [N,O,OH,OW] -> [N*OH*OW, O], one row per output position.
std::string position_rows(GraphBuilder& b, const std::string& y) {
  const auto& d = b.type(y).dims;
  std::string t = b.op("transpose", {y}, {{"perm", attr_ints({0, 2, 3, 1})}});
  return b.reshape(t, {d[0] * d[2] * d[3], d[1]});
}

/// im2col + GEMM, for targets without a convolution library; the product
/// in one of two layouts:
///  - rows (predict): the patches [N,OH,OW,C,KH,KW] as [N*OH*OW, C*KH*KW]
///    times the weights [O, C*KH*KW] transposed give [N*OH*OW, O];
///  - columns (train_step): the weights times the patches seen as
///    [C*KH*KW, N*OH*OW] (a transposed view, no copy) give [O, N*OH*OW],
///    and NCHW then moves whole OH*OW runs.
/// The columns layout is for the backward pass: the input's gradient GEMM
/// then yields the patches' gradient as [C*KH*KW, N*OH*OW], which
/// fold_patches (col2im) reads with the image's columns contiguous and sums
/// in vector lanes (LeNet-5's second convolution at batch 128: col2im 1.73
/// against 0.76 ms, measured on cpu before convolutions became library
/// calls there). A model that trains joins the two with if_training.
std::vector<std::string> expand_forward(GraphBuilder& b, const Node& n) {
  const std::string &x = n.inputs[0], &wt = n.inputs[1];
  // The GEMM's rows count batch x positions, which a symbolic batch cannot
  // state: the node stays whole until --batch binds it (dlc check).
  if (b.type(x).dims[0] == kBatch) return {};
  const auto& wd = b.type(wt).dims;
  Window2d w = conv_window(n, wd);
  std::string rows = patch_rows(b, x, w);
  const auto& xd = b.type(x).dims;
  int64_t oh = w.out_size(0, xd[2]), ow = w.out_size(1, xd[3]);
  std::string wm = b.reshape(wt, {wd[0], wd[1] * wd[2] * wd[3]});
  std::string y = b.matmul(rows, wm, false, true);  // [N*OH*OW, O]
  y = b.reshape(y, {xd[0], oh, ow, wd[0]});
  y = b.op("transpose", {y}, {{"perm", attr_ints({0, 3, 1, 2})}});
  if (b.builds_train_step()) {
    std::string positions = b.op("transpose", {rows});       // [C*KH*KW, N*OH*OW]
    std::string yt = b.matmul(wm, positions, false, false);  // [O, N*OH*OW]
    yt = b.reshape(yt, {wd[0], xd[0], oh, ow});
    yt = b.op("transpose", {yt}, {{"perm", attr_ints({1, 0, 2, 3})}});
    y = b.op("if_training", {yt, y});
  }
  return {y};
}

/// dx = col2im(dy's rows x the weights): [N*OH*OW, O] x [O, C*KH*KW].
std::vector<std::string> expand_input_grad(GraphBuilder& b, const Node& n) {
  const std::string &dy = n.inputs[0], &wt = n.inputs[1];
  if (b.type(dy).dims[0] == kBatch) return {};
  const auto& wd = b.type(wt).dims;
  const auto& yd = b.type(dy).dims;
  Window2d w = conv_window(n, wd);
  std::string wm = b.reshape(wt, {wd[0], wd[1] * wd[2] * wd[3]});
  std::string p = b.matmul(position_rows(b, dy), wm);  // [N*OH*OW, C*KH*KW]
  p = b.reshape(p, {yd[0], yd[2], yd[3], wd[1], wd[2], wd[3]});
  Attrs a = window_attrs(w);
  a["image"] = n.attrs.at("image");
  return {b.op("fold_patches", {p}, a)};
}

/// dw = dy's rows transposed x the patches: [O, N*OH*OW] x [N*OH*OW, C*KH*KW].
std::vector<std::string> expand_weight_grad(GraphBuilder& b, const Node& n) {
  const std::string &x = n.inputs[0], &dy = n.inputs[1];
  if (b.type(x).dims[0] == kBatch) return {};
  Window2d w;
  read_window(n, nullptr, false, &w);
  const auto& xd = b.type(x).dims;
  std::string dw = b.matmul(position_rows(b, dy), patch_rows(b, x, w), true, false);  // [O, C*KH*KW]
  return {b.reshape(dw, {b.type(dy).dims[1], xd[1], w.k[0], w.k[1]})};
}

OpDef pass_op(ConvPass pass) {
  OpDef d;
  d.min_inputs = d.max_inputs = 2;
  d.attrs = {{"strides", AttrKind::ints}, {"pads", AttrKind::ints}, {"dilations", AttrKind::ints}};
  d.infer = infer_pass(pass);
  d.eval = eval_pass(pass);
  d.grad = grad_pass(pass);
  d.lowering = Lowering::convolution;
  d.conv_pass = pass;
  d.conv_geometry = [pass](const Node& n, const std::vector<std::vector<int64_t>>& in) {
    return pass_geometry(n, pass, in);
  };
  switch (pass) {
    case ConvPass::forward:
      d.name = "conv2d_forward";
      d.expand = expand_forward;
      d.doc = "conv2d without a bias, as one library call: x [N,C,H,W], weight [O,C,KH,KW] -> [N,O,OH,OW] "
              "(strides, pads, dilations as conv2d); im2col + GEMM where the target has no convolution library";
      break;
    case ConvPass::input_grad:
      d.name = "conv2d_input_grad";
      d.attrs.push_back({"image", AttrKind::ints, true});
      d.expand = expand_input_grad;
      d.doc = "the gradient of conv2d_forward in its input: dy [N,O,OH,OW], weight [O,C,KH,KW] -> [N,C,H,W] "
              "(image = [H,W]); a GEMM + col2im where the target has no convolution library";
      break;
    case ConvPass::weight_grad:
      d.name = "conv2d_weight_grad";
      d.attrs.push_back({"kernel", AttrKind::ints, true});
      d.expand = expand_weight_grad;
      d.doc = "the gradient of conv2d_forward in its weight: x [N,C,H,W], dy [N,O,OH,OW] -> [O,C,KH,KW] "
              "(kernel = [KH,KW]); im2col + GEMM where the target has no convolution library";
      break;
  }
  return d;
}

// --- pooling --------------------------------------------------------------------

enum class Pool { max, avg };

std::string infer_pool(const Node& n, const std::vector<TensorType>& in, std::vector<TensorType>* out) {
  std::string e = need_image(in[0], "input");
  Window2d w;
  if (e.empty()) e = read_window(n, nullptr, true, &w);
  if (!e.empty()) return e;
  // PyTorch's rule: a window is never all padding.
  if (w.p[0] > w.k[0] / 2 || w.p[1] > w.k[1] / 2)
    return "pads " + shape_text({w.p[0], w.p[1]}) + " exceed half the kernel " + shape_text({w.k[0], w.k[1]});
  const auto& x = in[0].dims;
  int64_t oh = 0, ow = 0;
  if (!(e = out_hw(w, x[2], x[3], &oh, &ow)).empty()) return e;
  out->push_back({in[0].dtype, {x[0], x[1], oh, ow}});
  return "";
}

RefKernel eval_pool(Pool kind) {
  return [kind](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out, const EvalContext&) {
    Window2d w;
    read_window(n, nullptr, true, &w);
    const Tensor& x = *in[0];
    const auto& img = x.type.dims;
    Tensor& y = out[0];
    int64_t OH = y.type.dims[2], OW = y.type.dims[3];
    for (int64_t b = 0; b < img[0]; ++b)
      for (int64_t c = 0; c < img[1]; ++c)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            double acc = kind == Pool::max ? -std::numeric_limits<double>::infinity() : 0.0;
            for (int64_t i = 0; i < w.k[0]; ++i)
              for (int64_t j = 0; j < w.k[1]; ++j) {
                int64_t h = oh * w.s[0] + i * w.d[0] - w.p[0], v = ow * w.s[1] + j * w.d[1] - w.p[1];
                if (!inside(img, h, v)) continue;  // max: -inf, avg: 0 (counted)
                double e = x[image_index(img, b, c, h, v)];
                acc = kind == Pool::avg ? acc + e : (std::isnan(e) || std::isnan(acc)) ? NAN : std::max(acc, e);
              }
            y[((b * img[1] + c) * OH + oh) * OW + ow] = kind == Pool::avg ? acc / static_cast<double>(w.k[0] * w.k[1]) : acc;
          }
  };
}

ExpandFn expand_pool(Pool kind) {
  return [kind](GraphBuilder& b, const Node& n) -> std::vector<std::string> {
    Window2d w;
    read_window(n, nullptr, true, &w);
    const auto& img = b.type(n.inputs[0]).dims;
    const auto& out = b.type(n.outputs[0]).dims;
    const char* reduce = kind == Pool::max ? "reduce_max" : "reduce_mean";
    if (windows_tile_image(w, img, out[2], out[3])) {
      // Each pixel is in one window: the windows are the image itself seen
      // as [N, C, OH, KH, OW, KW] and transposed to [N, C, OH, OW, KH, KW].
      // Views, so nothing is stored: the reduction and max pooling's
      // gradient read the image where it lies.
      std::string r = b.reshape(n.inputs[0], {img[0], img[1], out[2], w.k[0], out[3], w.k[1]});
      std::string t = b.op("transpose", {r}, {{"perm", attr_ints({0, 1, 2, 4, 3, 5})}});
      return {b.op(reduce, {t}, {{"axes", attr_ints({4, 5})}})};
    }
    Attrs a = window_attrs(w);
    if (kind == Pool::max) a["pad_value"] = attr_f(-std::numeric_limits<double>::infinity());
    std::string p = b.op("extract_patches", {n.inputs[0]}, a);
    // Patches [N,OH,OW,C,KH,KW] seen as [N,C,OH,OW,KH,KW] (a view, free in
    // the reduction's loop), so the reduction writes NCHW itself: no
    // transpose kernel after it, and none before the gradient's fold.
    std::string t = b.op("transpose", {p}, {{"perm", attr_ints({0, 3, 1, 2, 4, 5})}});
    return {b.op(reduce, {t}, {{"axes", attr_ints({4, 5})}})};
  };
}

OpDef pool_op(const std::string& name, Pool kind, const std::string& doc) {
  OpDef d;
  d.name = name;
  d.attrs = {{"kernel", AttrKind::ints, true}, {"strides", AttrKind::ints}, {"pads", AttrKind::ints},
             {"dilations", AttrKind::ints}};
  d.infer = infer_pool;
  d.eval = eval_pool(kind);
  d.lowering = Lowering::expansion;
  d.expand = expand_pool(kind);
  d.doc = doc;
  return d;
}

}  // namespace

void register_conv_ops(OpRegistry& r) {
  r.add(extract_patches_op());
  r.add(fold_patches_op());
  r.add(conv2d_op());
  for (ConvPass pass : {ConvPass::forward, ConvPass::input_grad, ConvPass::weight_grad}) r.add(pass_op(pass));
  r.add(pool_op("max_pool2d", Pool::max,
                "max over each window of x [N,C,H,W] (kernel, strides = kernel, pads <= kernel/2, dilations); "
                "the gradient is split evenly between tied maxima of a window (PyTorch gives it to the first)"));
  r.add(pool_op("avg_pool2d", Pool::avg,
                "mean over each window of x [N,C,H,W] (kernel, strides = kernel, pads <= kernel/2); padding "
                "counts as zeros (PyTorch's count_include_pad=True)"));
}

}  // namespace dlc
