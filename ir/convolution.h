// The three passes of a 2-D convolution as library calls, and their shared
// geometry: what the graph ops conv2d_forward, conv2d_input_grad and
// conv2d_weight_grad (ir/ops/conv.cc) compute, and what a ConvCall step
// (kernel/kernel_ir.h) carries to the executors.
//
// Every tensor is dense: the image [N,C,H,W], the weight [O,C,KH,KW] and
// the result [N,O,OH,OW] (PyTorch's conv2d, a cross-correlation with zero
// padding). Each pass reads two of them and writes the third:
//   forward      image, weight -> result   y  = conv(x, w)
//   input_grad   result, weight -> image   dx = the adjoint of conv in x, at dy
//   weight_grad  image, result -> weight   dw = the adjoint of conv in w, at dy
#pragma once

#include <cstdint>

namespace dlc {

enum class ConvPass { forward, input_grad, weight_grad };

inline const char* conv_pass_name(ConvPass p) {
  switch (p) {
    case ConvPass::forward: return "forward";
    case ConvPass::input_grad: return "input_grad";
    case ConvPass::weight_grad: return "weight_grad";
  }
  return "?";
}

struct ConvGeometry {
  int64_t batch = 0, channels = 0, filters = 0;  // N, C, O
  int64_t image[2] = {0, 0};                     // H, W
  int64_t kernel[2] = {1, 1};                    // KH, KW
  int64_t out[2] = {0, 0};                       // OH, OW
  int64_t stride[2] = {1, 1}, pad[2] = {0, 0}, dilation[2] = {1, 1};

  int64_t image_numel() const { return batch * channels * image[0] * image[1]; }
  int64_t weight_numel() const { return filters * channels * kernel[0] * kernel[1]; }
  int64_t result_numel() const { return batch * filters * out[0] * out[1]; }
  /// Multiply-adds of one pass (every pass does the same number).
  int64_t macs() const { return result_numel() * channels * kernel[0] * kernel[1]; }
  bool operator==(const ConvGeometry& o) const {
    auto same = [](const int64_t* a, const int64_t* b) { return a[0] == b[0] && a[1] == b[1]; };
    return batch == o.batch && channels == o.channels && filters == o.filters && same(image, o.image) &&
           same(kernel, o.kernel) && same(out, o.out) && same(stride, o.stride) && same(pad, o.pad) &&
           same(dilation, o.dilation);
  }
};

/// Calls f(x, w, y) with the flat indices of every (image, weight, result)
/// triple a convolution multiplies, in a fixed order; taps outside the image
/// (the zero padding) are skipped. The reference's definition of every pass.
template <typename F>
void for_each_conv_product(const ConvGeometry& g, F f) {
  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t o = 0; o < g.filters; ++o)
      for (int64_t oh = 0; oh < g.out[0]; ++oh)
        for (int64_t ow = 0; ow < g.out[1]; ++ow) {
          int64_t y = ((b * g.filters + o) * g.out[0] + oh) * g.out[1] + ow;
          for (int64_t c = 0; c < g.channels; ++c)
            for (int64_t i = 0; i < g.kernel[0]; ++i)
              for (int64_t j = 0; j < g.kernel[1]; ++j) {
                int64_t h = oh * g.stride[0] + i * g.dilation[0] - g.pad[0];
                int64_t v = ow * g.stride[1] + j * g.dilation[1] - g.pad[1];
                if (h < 0 || h >= g.image[0] || v < 0 || v >= g.image[1]) continue;
                f(((b * g.channels + c) * g.image[0] + h) * g.image[1] + v,
                  ((o * g.channels + c) * g.kernel[0] + i) * g.kernel[1] + j, y);
              }
        }
}

}  // namespace dlc
