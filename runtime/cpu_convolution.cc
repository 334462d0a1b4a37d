#include "runtime/cpu_convolution.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <dnnl.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ir/error.h"
#include "ir/size_limits.h"
#include "runtime/one_openmp_thread.h"
#include "runtime/thread_pool.h"
#include "runtime/work_split.h"

namespace dlc {
namespace {

namespace dn = dnnl;
using tag = dn::memory::format_tag;
using dt = dn::memory::data_type;

/// The three tensors of a convolution, in the order every table here uses.
enum Tensor { kImage, kWeight, kResult };

/// The primitive for blocks of one size, its layouts, and the reorders
/// between them and dense NCHW / OIHW.
struct Layout {
  int64_t images = 0;
  dn::primitive conv;
  std::string kernel;  // oneDNN's name of the primitive's implementation
  dn::memory::desc plain[3], own[3];  // dlc's layouts and the primitive's
  std::optional<dn::reorder> to_own[3], to_plain[3];
  size_t scratch_bytes = 0;
  bool swapped = false;  // a weight gradient computed as a forward convolution (Impl::swapped)
};

/// One block of images: its stream and its views of dlc's buffers (their
/// handles are set per call).
struct Block {
  int64_t first = 0, images = 0;
  int layout = 0;
  dn::stream stream;
  dn::memory plain[3];
};

/// The primitive's own (blocked) tensors for one block at a time, per
/// layout (empty where the layout is the plain one), and its scratchpad. A
/// block borrows a free workspace while it runs: the threads reuse the few
/// the pool keeps busy, which stay in their caches, where a workspace per
/// block would be cold memory every call (LeNet-5's first weight gradient
/// at batch 128: the reorder of 8 images' dy took 42 us in the step, 6 us
/// warm; session 16).
struct Workspace {
  std::vector<std::array<dn::memory, 3>> own;  // per layout
  dn::memory scratch;
};

dn::memory::dims dims(std::initializer_list<int64_t> v) { return dn::memory::dims(v); }

}  // namespace

struct CpuConvolution::Impl {
  ConvCall call;
  dn::engine engine{dn::engine::kind::cpu, 0};
  std::vector<Layout> layouts;
  std::vector<Block> blocks;
  /// As many as blocks (a block runs on one thread at a time); busy[i] is
  /// set while a block holds workspaces[i].
  std::vector<Workspace> workspaces;
  std::unique_ptr<std::atomic<bool>[]> busy;
  /// forward and input_grad: the weights in each layout's own format, shared by its blocks.
  std::vector<dn::memory> weights_plain, weights_own;
  /// weight_grad with several blocks: each block's partial sum, in order.
  std::vector<float> partials;
  dn::stream stream{engine};  // the weights' reorders, on the calling thread

  int64_t per_image(int t) const {
    const ConvGeometry& g = call.geometry;
    return t == kImage ? g.channels * g.image[0] * g.image[1] : g.filters * g.out[0] * g.out[1];
  }

  /// The weight gradient of a one-channel convolution as a forward
  /// convolution with roles swapped: dw[o,0,i,j] = sum over n, oh, ow of
  /// x[n,0,oh*s + i*d - p, ...] dy[n,o,oh,ow] is the forward convolution of
  /// the images seen as ONE image of N channels ([1,N,H,W], the same bytes)
  /// with dy seen as O filters of N channels ([O,N,OH,OW], oneDNN's iohw),
  /// stride d and dilation s, giving [1,O,KH,KW]. oneDNN's backward-weights
  /// kernel is slow with one input channel: LeNet-5's first convolution at
  /// batch 128 took 5.3 ms on one thread, the swapped forward 2.3 ms (AMD
  /// EPYC, AVX2, session 12). Only where the swapped output is exactly the
  /// kernel with both sides padded alike (any window that uses the whole
  /// padded image).
  bool swapped() const {
    const ConvGeometry& g = call.geometry;
    if (call.pass != ConvPass::weight_grad || g.channels != 1) return false;
    for (int a = 0; a < 2; ++a) {
      int64_t reach = g.image[a] + 2 * g.pad[a] - ((g.out[a] - 1) * g.stride[a] + 1);
      if (reach < 0 || reach / g.dilation[a] + 1 != g.kernel[a]) return false;
    }
    return true;
  }

  Layout make_swapped_layout(int64_t images, const dn::primitive_attr& attr) {
    const ConvGeometry& g = call.geometry;
    Layout l;
    l.images = images;
    l.swapped = true;
    auto image = dims({1, images, g.image[0], g.image[1]});
    auto filters = dims({g.filters, images, g.out[0], g.out[1]});
    auto gradient = dims({1, g.filters, g.kernel[0], g.kernel[1]});
    l.plain[kImage] = {image, dt::f32, tag::nchw};
    l.plain[kResult] = {filters, dt::f32, tag::iohw};
    l.plain[kWeight] = {gradient, dt::f32, tag::nchw};
    auto pads = dims({g.pad[0], g.pad[1]});
    dn::convolution_forward::primitive_desc pd(
        dn::convolution_forward::desc(dn::prop_kind::forward_inference, dn::algorithm::convolution_direct,
                                      {image, dt::f32, tag::any}, {filters, dt::f32, tag::any},
                                      {gradient, dt::f32, tag::any}, dims({g.dilation[0], g.dilation[1]}),
                                      dims({g.stride[0] - 1, g.stride[1] - 1}), pads, pads),
        attr, engine);
    l.conv = dn::convolution_forward(pd);
    l.kernel = pd.impl_info_str();
    l.own[kImage] = pd.src_desc(), l.own[kResult] = pd.weights_desc(), l.own[kWeight] = pd.dst_desc();
    l.scratch_bytes = pd.scratchpad_desc().get_size();
    return l;
  }

  Layout make_layout(int64_t images) {
    dn::primitive_attr attr;
    attr.set_scratchpad_mode(dn::scratchpad_mode::user);
    Layout l = swapped() ? make_swapped_layout(images, attr) : make_pass_layout(images, attr);
    const ConvOperand* operands[3] = {&call.image, &call.weight, &call.result};  // in Tensor order
    for (int t = 0; t < 3; ++t) {
      if (l.own[t] == l.plain[t]) continue;
      auto reorder = [&](const dn::memory::desc& from, const dn::memory::desc& to) {
        dn::reorder::primitive_desc pd(engine, from, engine, to, attr);
        l.scratch_bytes = std::max(l.scratch_bytes, pd.scratchpad_desc().get_size());
        return dn::reorder(pd);
      };
      if (operands[t] == &call.written()) l.to_plain[t] = reorder(l.own[t], l.plain[t]);
      else l.to_own[t] = reorder(l.plain[t], l.own[t]);
    }
    return l;
  }

  /// The layouts of the image and the result to ask oneDNN for, best
  /// first; the last (any, any: oneDNN's choice) always stands. oneDNN's
  /// choice pads the channels to its vector width (16 on AVX-512), so a side
  /// with at most 8 channels moves 2-16x its bytes through the primitive and
  /// its reorder. Measured on LeNet-5's convolutions, 8 images, one thread
  /// (AMD EPYC with AVX-512, session 16; conv + reorders, us): the forward
  /// 1 -> 6 channels 65 with 16-channel blocks, 51 with 8; the input
  /// gradient 6 <- 16 channels 92 with 16-channel blocks, 75 with 8; the
  /// weight gradient 6 -> 16 channels 60 in 8-channel blocks (oneDNN's
  /// choice, an AVX2 kernel), 38 in NHWC (an AVX-512 kernel). On AVX2 the
  /// 8-channel blocks are oneDNN's own choice.
  std::vector<std::pair<tag, tag>> layout_choices() const {
    const ConvGeometry& g = call.geometry;
    std::vector<std::pair<tag, tag>> choices;
    switch (call.pass) {
      case ConvPass::forward:
        if (g.filters <= 8) choices.push_back({tag::any, tag::nChw8c});
        break;
      case ConvPass::input_grad:
        if (g.channels <= 8) choices.push_back({tag::nChw8c, tag::nChw8c});
        break;
      case ConvPass::weight_grad:
        if (g.channels <= 8) choices.push_back({tag::nhwc, tag::nhwc});
        break;
    }
    choices.push_back({tag::any, tag::any});
    return choices;
  }

  /// A choice other than oneDNN's own stands only with a jit kernel of
  /// oneDNN's direct family (`kernel`, oneDNN's name): for a layout they do
  /// not cover oneDNN falls back to its GEMM-based (3-4x slower here) or
  /// reference (100x) kernels.
  static bool direct_kernel(const std::string& kernel) {
    return kernel.rfind("ref", 0) != 0 && kernel.find("gemm") == std::string::npos;
  }

  Layout make_pass_layout(int64_t images, const dn::primitive_attr& attr) {
    const std::vector<std::pair<tag, tag>> choices = layout_choices();
    for (size_t i = 0; i + 1 < choices.size(); ++i) {
      try {
        std::optional<Layout> l = make_pass_layout(images, attr, choices[i].first, choices[i].second);
        if (l) return *l;
      } catch (const dn::error&) {
        // this oneDNN has no kernel for the layout: the next choice
      }
    }
    return *make_pass_layout(images, attr, choices.back().first, choices.back().second, /*any_kernel=*/true);
  }

  /// The pass with the image and the result in the layouts given; nothing
  /// when oneDNN's kernel for them is not a direct one (unless any_kernel).
  std::optional<Layout> make_pass_layout(int64_t images, const dn::primitive_attr& attr, tag image_tag,
                                         tag result_tag, bool any_kernel = false) {
    const ConvGeometry& g = call.geometry;
    Layout l;
    l.images = images;
    auto image = dims({images, g.channels, g.image[0], g.image[1]});
    auto weight = dims({g.filters, g.channels, g.kernel[0], g.kernel[1]});
    auto result = dims({images, g.filters, g.out[0], g.out[1]});
    l.plain[kImage] = {image, dt::f32, tag::nchw};
    l.plain[kWeight] = {weight, dt::f32, tag::oihw};
    l.plain[kResult] = {result, dt::f32, tag::nchw};
    dn::memory::desc asked_image(image, dt::f32, image_tag), any_weight(weight, dt::f32, tag::any),
        asked_result(result, dt::f32, result_tag);
    auto strides = dims({g.stride[0], g.stride[1]});
    auto dilates = dims({g.dilation[0] - 1, g.dilation[1] - 1});  // oneDNN counts the gaps
    // Both sides padded alike: oneDNN sizes the output by the same floor
    // division as ir/ops/conv.cc, so a window past the last one is dropped.
    auto pads = dims({g.pad[0], g.pad[1]});
    dn::convolution_forward::primitive_desc fwd(
        dn::convolution_forward::desc(dn::prop_kind::forward_training, dn::algorithm::convolution_direct,
                                      asked_image, any_weight, asked_result, strides, dilates, pads, pads),
        attr, engine);
    dn::memory::desc scratch;
    // Names the primitive's kernel; false when that kernel does not stand.
    auto stands = [&](const dn::primitive_desc_base& pd) {
      l.kernel = pd.impl_info_str();
      return any_kernel || direct_kernel(l.kernel);
    };
    switch (call.pass) {
      case ConvPass::forward:
        if (!stands(fwd)) return std::nullopt;
        l.conv = dn::convolution_forward(fwd);
        l.own[kImage] = fwd.src_desc(), l.own[kWeight] = fwd.weights_desc(), l.own[kResult] = fwd.dst_desc();
        scratch = fwd.scratchpad_desc();
        break;
      case ConvPass::input_grad: {
        dn::convolution_backward_data::primitive_desc pd(
            dn::convolution_backward_data::desc(dn::algorithm::convolution_direct, asked_image, any_weight,
                                                asked_result, strides, dilates, pads, pads),
            attr, engine, fwd);
        if (!stands(pd)) return std::nullopt;
        l.conv = dn::convolution_backward_data(pd);
        l.own[kImage] = pd.diff_src_desc(), l.own[kWeight] = pd.weights_desc(), l.own[kResult] = pd.diff_dst_desc();
        scratch = pd.scratchpad_desc();
        break;
      }
      case ConvPass::weight_grad: {
        dn::convolution_backward_weights::primitive_desc pd(
            dn::convolution_backward_weights::desc(dn::algorithm::convolution_direct, asked_image, any_weight,
                                                   asked_result, strides, dilates, pads, pads),
            attr, engine, fwd);
        if (!stands(pd)) return std::nullopt;
        l.conv = dn::convolution_backward_weights(pd);
        l.own[kImage] = pd.src_desc(), l.own[kWeight] = pd.diff_weights_desc(), l.own[kResult] = pd.diff_dst_desc();
        scratch = pd.scratchpad_desc();
        break;
      }
    }
    l.scratch_bytes = scratch.get_size();
    return l;
  }

  void prepare(const std::string& where) {
    const ConvGeometry& g = call.geometry;
    const bool partial_sums = call.pass == ConvPass::weight_grad;
    const int chunks = g.batch == 0 ? 0
                                    : work_split::conv_chunks(g.batch, g.macs(),
                                                              partial_sums ? g.weight_numel() : 0);
    int64_t bytes = 0;
    for (int i = 0; i < chunks; ++i) {
      auto [lo, hi] = ThreadPool::chunk_range(g.batch, chunks, i);
      Block b;
      b.first = lo;
      b.images = hi - lo;
      auto same = std::find_if(layouts.begin(), layouts.end(), [&](const Layout& l) { return l.images == b.images; });
      if (same == layouts.end()) {
        layouts.push_back(make_layout(b.images));
        same = layouts.end() - 1;
      }
      b.layout = static_cast<int>(same - layouts.begin());
      const Layout& l = *same;
      for (int t = 0; t < 3; ++t) {
        bytes = saturating_add(bytes, static_cast<int64_t>(l.own[t].get_size()));
        check_size(where + ": the blocked tensors of its convolution", bytes);
      }
      blocks.push_back(std::move(b));
    }
    if (partial_sums && chunks > 1) {
      int64_t floats = saturating_mul(chunks, g.weight_numel());
      check_size(where + ": the partial weight gradients of its convolution", saturating_mul(floats, 4));
      partials.assign(static_cast<size_t>(floats), 0.0f);
    }
    size_t scratch_bytes = 1;
    for (const Layout& l : layouts) scratch_bytes = std::max(scratch_bytes, l.scratch_bytes);
    for (const Layout& l : layouts) {
      weights_plain.push_back(dn::memory(l.plain[kWeight], engine, nullptr));
      weights_own.push_back(l.own[kWeight] == l.plain[kWeight] ? weights_plain.back() : dn::memory(l.own[kWeight], engine));
    }
    for (Block& b : blocks) {
      const Layout& l = layouts[static_cast<size_t>(b.layout)];
      b.stream = dn::stream(engine);
      for (int t = 0; t < 3; ++t) b.plain[t] = dn::memory(l.plain[t], engine, nullptr);
    }
    // oneDNN allocates without touching: a workspace no thread borrows
    // takes no resident memory.
    workspaces.resize(blocks.size());
    busy = std::make_unique<std::atomic<bool>[]>(blocks.size());
    for (Workspace& w : workspaces) {
      for (const Layout& l : layouts) {
        w.own.emplace_back();
        for (int t = 0; t < 3; ++t)
          if (l.own[t] != l.plain[t] && (partial_sums || t != kWeight)) w.own.back()[t] = dn::memory(l.own[t], engine);
      }
      // The largest of every layout's: the weights' reorders use workspace 0's.
      w.scratch = dn::memory({dims({static_cast<int64_t>(scratch_bytes)}), dt::u8, tag::x}, engine);
    }
  }

  /// Marks a free workspace busy and returns its index (one is always free:
  /// there are as many as blocks).
  size_t borrow_workspace() {
    for (;;)
      for (size_t i = 0; i < workspaces.size(); ++i)
        if (!busy[i].load(std::memory_order_relaxed) && !busy[i].exchange(true, std::memory_order_acquire)) return i;
  }

  void run_block(size_t index, float* image, float* weight, float* result) {
    OneOpenMpThread one_thread;
    Block& b = blocks[index];
    const Layout& l = layouts[static_cast<size_t>(b.layout)];
    b.plain[kImage].set_data_handle(image + b.first * per_image(kImage));
    b.plain[kResult].set_data_handle(result + b.first * per_image(kResult));
    float* own_weight = partials.empty() ? weight : partials.data() + index * call.geometry.weight_numel();
    b.plain[kWeight].set_data_handle(own_weight);
    const size_t w = borrow_workspace();
    struct Return {
      std::atomic<bool>& flag;
      ~Return() { flag.store(false, std::memory_order_release); }
    } give_back{busy[w]};
    const Workspace& ws = workspaces[w];
    const dn::memory& scratch = ws.scratch;
    dn::memory own[3];
    for (int t = 0; t < 3; ++t) {
      const dn::memory& mine = ws.own[static_cast<size_t>(b.layout)][t];
      own[t] = l.own[t] == l.plain[t] ? b.plain[t] : mine;
    }
    if (call.pass != ConvPass::weight_grad) own[kWeight] = weights_own[static_cast<size_t>(b.layout)];
    for (int t = 0; t < 3; ++t)
      if (l.to_own[t] && t != kWeight)
        l.to_own[t]->execute(b.stream, {{DNNL_ARG_FROM, b.plain[t]}, {DNNL_ARG_TO, own[t]},
                                        {DNNL_ARG_SCRATCHPAD, scratch}});
    switch (call.pass) {
      case ConvPass::forward:
        l.conv.execute(b.stream, {{DNNL_ARG_SRC, own[kImage]}, {DNNL_ARG_WEIGHTS, own[kWeight]},
                                  {DNNL_ARG_DST, own[kResult]}, {DNNL_ARG_SCRATCHPAD, scratch}});
        break;
      case ConvPass::input_grad:
        l.conv.execute(b.stream, {{DNNL_ARG_DIFF_DST, own[kResult]}, {DNNL_ARG_WEIGHTS, own[kWeight]},
                                  {DNNL_ARG_DIFF_SRC, own[kImage]}, {DNNL_ARG_SCRATCHPAD, scratch}});
        break;
      case ConvPass::weight_grad:
        if (l.swapped)
          l.conv.execute(b.stream, {{DNNL_ARG_SRC, own[kImage]}, {DNNL_ARG_WEIGHTS, own[kResult]},
                                    {DNNL_ARG_DST, own[kWeight]}, {DNNL_ARG_SCRATCHPAD, scratch}});
        else
          l.conv.execute(b.stream, {{DNNL_ARG_SRC, own[kImage]}, {DNNL_ARG_DIFF_DST, own[kResult]},
                                    {DNNL_ARG_DIFF_WEIGHTS, own[kWeight]}, {DNNL_ARG_SCRATCHPAD, scratch}});
        break;
    }
    for (int t = 0; t < 3; ++t)
      if (l.to_plain[t])
        l.to_plain[t]->execute(b.stream, {{DNNL_ARG_FROM, own[t]}, {DNNL_ARG_TO, b.plain[t]},
                                          {DNNL_ARG_SCRATCHPAD, scratch}});
    b.stream.wait();
  }

  void run(void* const* pointers, ThreadPool& pool) {
    auto at = [&](const ConvOperand& o) { return static_cast<float*>(pointers[o.buffer]) + o.offset; };
    float *image = at(call.image), *weight = at(call.weight), *result = at(call.result);
    const int64_t weight_numel = call.geometry.weight_numel();
    if (blocks.empty()) {  // no images: the weight gradient is a sum of nothing
      if (call.pass == ConvPass::weight_grad) std::fill(weight, weight + weight_numel, 0.0f);
      return;
    }
    if (call.pass != ConvPass::weight_grad) {
      OneOpenMpThread one_thread;
      for (size_t i = 0; i < layouts.size(); ++i) {
        weights_plain[i].set_data_handle(weight);
        if (!layouts[i].to_own[kWeight]) continue;
        layouts[i].to_own[kWeight]->execute(stream, {{DNNL_ARG_FROM, weights_plain[i]}, {DNNL_ARG_TO, weights_own[i]},
                                                     {DNNL_ARG_SCRATCHPAD, workspaces[0].scratch}});
      }
      stream.wait();
    }
    const int n = static_cast<int>(blocks.size());
    pool.parallel_for(n, n, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) run_block(static_cast<size_t>(i), image, weight, result);
    });
    if (partials.empty()) return;
    // Block order for every element, whichever thread adds it.
    const int parts = work_split::loop_chunks(weight_numel, n);
    pool.parallel_for(weight_numel, parts, [&](int64_t lo, int64_t hi) {
      for (int64_t k = lo; k < hi; ++k) {
        float s = partials[static_cast<size_t>(k)];
        for (int i = 1; i < n; ++i) s += partials[static_cast<size_t>(i * weight_numel + k)];
        weight[k] = s;
      }
    });
  }
};

CpuConvolution::CpuConvolution(const ConvCall& call, const std::string& where) : impl_(std::make_unique<Impl>()) {
  impl_->call = call;
  // Made for the single thread each block runs on (oneDNN plans a
  // primitive's work split for the thread count it sees when made).
  OneOpenMpThread one_thread;
  try {
    impl_->prepare(where);
  } catch (const dn::error& e) {
    throw Error(where + ": oneDNN cannot run its " + conv_pass_name(call.pass) + " convolution: " + e.what());
  }
}

CpuConvolution::~CpuConvolution() = default;
CpuConvolution::CpuConvolution(CpuConvolution&&) noexcept = default;
CpuConvolution& CpuConvolution::operator=(CpuConvolution&&) noexcept = default;

void CpuConvolution::run(void* const* pointers, ThreadPool& pool) {
  try {
    impl_->run(pointers, pool);
  } catch (const dn::error& e) {
    throw Error(std::string("oneDNN ") + conv_pass_name(impl_->call.pass) + " convolution failed: " + e.what());
  }
}

int CpuConvolution::chunks() const { return static_cast<int>(impl_->blocks.size()); }

std::vector<std::string> CpuConvolution::kernel_names() const {
  std::vector<std::string> names;
  for (const Layout& l : impl_->layouts)
    if (std::find(names.begin(), names.end(), l.kernel) == names.end()) names.push_back(l.kernel);
  return names;
}

}  // namespace dlc
