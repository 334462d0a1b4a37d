// What oneDNN's convolution primitives cost on LeNet-5's two convolutions:
// the lever session 10 named for issue 15 (a convolution library step in
// place of dlc's im2col + GEMM). Times forward, backward-data and
// backward-weights, each with plain NCHW tensors (what dlc's buffers are) and
// with the blocked layouts oneDNN picks itself (format "any"), the latter
// with and without the reorders from and to NCHW that a library step over
// dlc's buffers would need. Prints one markdown table; compare with the
// conv kernels of `dlrun bench --profile` on the same machine (run.sh).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <dnnl.hpp>
#include <functional>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Best of 5 rounds of the mean over `reps` calls, after 5 warm-up calls.
double time_ms(const std::function<void()>& f, int reps) {
  for (int i = 0; i < 5; ++i) f();
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    double t = now_ms();
    for (int i = 0; i < reps; ++i) f();
    best = std::min(best, (now_ms() - t) / reps);
  }
  return best;
}

void fill(memory& m) {
  float* p = static_cast<float*>(m.get_data_handle());
  size_t n = m.get_desc().get_size() / sizeof(float);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<float>(i % 7) * 0.1f - 0.3f;
}

struct Conv {
  const char* name;
  int n, c, h, o, k, pad;
  bool input_grad;  // the model's input takes no gradient (LeNet's conv1)
};

/// One row per layout: forward, backward-data, backward-weights (ms) and the sum.
void run(const Conv& cv, bool blocked, bool with_reorders, int reps) {
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  const int oh = cv.h + 2 * cv.pad - cv.k + 1;
  memory::dims src{cv.n, cv.c, cv.h, cv.h}, wei{cv.o, cv.c, cv.k, cv.k}, bia{cv.o}, dst{cv.n, cv.o, oh, oh};
  memory::dims stride{1, 1}, pad{cv.pad, cv.pad};
  auto fmt = blocked ? tag::any : tag::nchw;
  memory::desc src_md(src, dt::f32, fmt), wei_md(wei, dt::f32, blocked ? tag::any : tag::oihw),
      bia_md(bia, dt::f32, tag::x), dst_md(dst, dt::f32, fmt);
  convolution_forward::primitive_desc fwd(
      convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, src_md, wei_md, bia_md,
                                dst_md, stride, pad, pad),
      eng);
  convolution_backward_data::primitive_desc bwd_data(
      convolution_backward_data::desc(algorithm::convolution_direct, src_md, wei_md, dst_md, stride, pad, pad), eng,
      fwd);
  convolution_backward_weights::primitive_desc bwd_w(
      convolution_backward_weights::desc(algorithm::convolution_direct, src_md, wei_md, bia_md, dst_md, stride, pad,
                                         pad),
      eng, fwd);
  // NCHW tensors as dlc holds them, and the primitives' own layouts.
  memory x(memory::desc(src, dt::f32, tag::nchw), eng), y(memory::desc(dst, dt::f32, tag::nchw), eng),
      dy(memory::desc(dst, dt::f32, tag::nchw), eng), dx(memory::desc(src, dt::f32, tag::nchw), eng);
  memory w(fwd.weights_desc(), eng), b(fwd.bias_desc(), eng), dw(bwd_w.diff_weights_desc(), eng),
      db(bwd_w.diff_bias_desc(), eng);
  memory xs(fwd.src_desc(), eng), ys(fwd.dst_desc(), eng), dys(bwd_data.diff_dst_desc(), eng),
      dxs(bwd_data.diff_src_desc(), eng), xw(bwd_w.src_desc(), eng), dyw(bwd_w.diff_dst_desc(), eng);
  for (memory* m : {&x, &y, &dy, &dx, &w, &b, &dw, &db, &xs, &ys, &dys, &dxs, &xw, &dyw}) fill(*m);
  auto to = [&](memory& from, memory& into) {
    if (with_reorders && from.get_desc() != into.get_desc()) reorder(from, into).execute(s, from, into);
  };
  convolution_forward f(fwd);
  convolution_backward_data bd(bwd_data);
  convolution_backward_weights bw(bwd_w);
  double t_fwd = time_ms(
      [&] {
        to(x, xs);
        f.execute(s, {{DNNL_ARG_SRC, xs}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, ys}});
        to(ys, y);
        s.wait();
      },
      reps);
  double t_bd = !cv.input_grad ? 0
                               : time_ms(
                                     [&] {
                                       to(dy, dys);
                                       bd.execute(s, {{DNNL_ARG_DIFF_DST, dys}, {DNNL_ARG_WEIGHTS, w},
                                                      {DNNL_ARG_DIFF_SRC, dxs}});
                                       to(dxs, dx);
                                       s.wait();
                                     },
                                     reps);
  double t_bw = time_ms(
      [&] {
        to(x, xw);
        to(dy, dyw);
        bw.execute(s, {{DNNL_ARG_SRC, xw}, {DNNL_ARG_DIFF_DST, dyw}, {DNNL_ARG_DIFF_WEIGHTS, dw},
                       {DNNL_ARG_DIFF_BIAS, db}});
        s.wait();
      },
      reps);
  char bd_text[32] = "-";
  if (cv.input_grad) std::snprintf(bd_text, sizeof bd_text, "%.3f", t_bd);
  std::printf("| %s, batch %d | %s | %d | %.3f | %s | %.3f | %.3f | %s |\n", cv.name, cv.n,
              !blocked ? "NCHW" : with_reorders ? "blocked + reorders" : "blocked (no reorders)",
              omp_get_max_threads(), t_fwd, bd_text, t_bw, t_fwd + t_bd + t_bw, fwd.impl_info_str());
}

}  // namespace

int main(int argc, char** argv) {
  int reps = argc > 1 ? std::atoi(argv[1]) : 20;
  const Conv convs[] = {{"conv1 1->6 5x5 pad 2, 28x28", 128, 1, 28, 6, 5, 2, false},
                        {"conv2 6->16 5x5, 14x14", 128, 6, 14, 16, 5, 0, true},
                        {"conv1 1->6 5x5 pad 2, 28x28", 32, 1, 28, 6, 5, 2, false},
                        {"conv2 6->16 5x5, 14x14", 32, 6, 14, 16, 5, 0, true}};
  std::printf("| convolution | layout | threads | forward ms | backward-data ms | backward-weights ms | sum ms | oneDNN kernel |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const Conv& cv : convs) {
    run(cv, false, false, reps);
    run(cv, true, true, reps);
    run(cv, true, false, reps);
  }
}
