// The op sweep, shared by every backend's sweep test (cpu_op_sweep_test,
// cuda_op_sweep_test): a table with one row per registered op (cases at
// sizes 1, 7 and 1023, broadcasting shape pairs, value ranges valid for the
// op) and the graphs built from it. A backend test lowers those graphs, runs
// them its way and compares with the float64 reference interpreter.
//
// The sweeps are parameterized over the registry, not over the table, so an
// op registered without a row fails by name. All cases of one op in one mode
// (inference or training) share one graph, so a backend compiles an op's
// forward sweep once and its gradients once per mode.
//
// Error measure (test::relative_error): |got - ref| / max(1, |ref|) per
// element, at most kTolerance unless the row says otherwise; a NaN on either
// side fails, and so does an infinity the other side does not match. Float
// inputs are drawn as float32 values, so every backend starts from the same
// numbers as the reference.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "compiler/lower_to_kernels.h"
#include "compiler/passes/autodiff.h"
#include "ir/builder.h"
#include "ir/op_registry.h"
#include "ir/philox.h"
#include "ir/verifier.h"
#include "tests/ops_test_util.h"
#include "tests/test_util.h"

namespace dlc::test::sweep {

inline constexpr double kTolerance = 1e-5;
using Dims = std::vector<int64_t>;

// --- the table -----------------------------------------------------------------

/// How one operand of a case is drawn.
struct Operand {
  enum class Draw {
    uniform,    // uniform in [lo, hi)
    magnitude,  // uniform in [lo, hi) with a random sign: away from zero
    integers,   // floor of uniform in [lo, hi): labels, indices, bools, ties
    signs,      // -1 or 1
  };
  Dims dims;
  DType dtype = DType::f32;
  Draw draw = Draw::uniform;
  double lo = -2, hi = 2;
  bool trainable = true;  // the gradient sweep makes it a parameter (floats only)
};

inline Operand real(Dims d, double lo = -2, double hi = 2) { return {std::move(d), DType::f32, Operand::Draw::uniform, lo, hi}; }
inline Operand away_from_zero(Dims d, double lo, double hi) {
  return {std::move(d), DType::f32, Operand::Draw::magnitude, lo, hi};
}
/// Integer values in [lo, hi) of `dtype`; never differentiated.
inline Operand whole(Dims d, double lo, double hi, DType dtype) {
  return {std::move(d), dtype, Operand::Draw::integers, lo, hi, false};
}
/// Integers just above 2^24, where float32 no longer holds every integer;
/// the reference compares and subtracts them exactly.
inline Operand big_ints(Dims d) { return whole(std::move(d), 16777216, 16777236, DType::i32); }
inline Operand bools(Dims d) { return whole(std::move(d), 0, 2, DType::boolean); }
inline Operand signs(Dims d, DType dtype) { return {std::move(d), dtype, Operand::Draw::signs, -1, 1, false}; }
/// A float operand that gets no gradient (targets of losses whose rule gives them none).
inline Operand fixed(Operand o) {
  o.trainable = false;
  return o;
}

struct Case {
  std::vector<Operand> operands;
  Attrs attrs = {};
  bool training = false;  // the entry runs in training mode (dropout active)
};

struct Sweep {
  std::vector<Case> cases;
  /// A loss op: in the gradient sweep its scalar output enters the loss
  /// as it is (every other case), so autodiff seeds it with ones.
  bool loss = false;
  /// The gradient sweep's tolerance; looser only with a reason at the row.
  double grad_tol = kTolerance;
};

inline const std::vector<Dims> kUnaryShapes = {{}, {1}, {7}, {1023}, {7, 1023}};
/// Same shapes at each size, then broadcasting in every direction.
inline const std::vector<std::pair<Dims, Dims>> kBinaryShapes = {
    {{1}, {1}},         {{7}, {7}},           {{1023}, {1023}}, {{7, 1023}, {1023}}, {{1023}, {7, 1023}},
    {{7, 1}, {1, 1023}}, {{1, 1023}, {7, 1}}, {{}, {7, 1023}},  {{7, 1023}, {}},     {{1023, 1}, {7}},
    {{1}, {1023}}};
/// Same-shape losses and their operands.
inline const std::vector<Dims> kLossShapes = {{1}, {7}, {1023}, {7, 1023}};
/// [N, C] scores for the class losses.
inline const std::vector<Dims> kClassShapes = {{1, 1}, {7, 1023}, {1023, 7}, {7, 7}};

inline Sweep unary(double lo, double hi) {
  Sweep s;
  for (const Dims& d : kUnaryShapes) s.cases.push_back({{real(d, lo, hi)}});
  return s;
}

using OperandFn = std::function<Operand(Dims)>;
inline Sweep binary(const OperandFn& a, const OperandFn& b) {
  Sweep s;
  for (const auto& [da, db] : kBinaryShapes) s.cases.push_back({{a(da), b(db)}});
  return s;
}
inline OperandFn reals(double lo = -2, double hi = 2) {
  return [=](Dims d) { return real(std::move(d), lo, hi); };
}

inline Sweep reductions() {
  auto axes = [](Dims a, bool keep = false) { return Attrs{{"axes", attr_ints(a)}, {"keepdims", attr_b(keep)}}; };
  return {{{{real({1})}},
           {{real({7})}},
           {{real({1023})}},
           {{real({7, 1023})}},  // every axis
           {{real({7, 1023})}, axes({1})},
           {{real({7, 1023})}, axes({0})},
           {{real({1023, 7})}, axes({-1}, true)},
           {{real({1023, 7})}, axes({0}, true)},
           {{real({3, 7, 5})}, axes({0, 2})},
           {{real({1, 7})}, axes({0})}}};
}

inline Sweep matmuls() {
  Sweep s;
  for (auto [m, k, n] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {7, 1023, 7}, {1023, 7, 1}, {1, 7, 1023}})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        s.cases.push_back({{real(ta ? Dims{k, m} : Dims{m, k}, -1, 1), real(tb ? Dims{n, k} : Dims{k, n}, -1, 1)},
                           {{"transpose_a", attr_b(ta)}, {"transpose_b", attr_b(tb)}}});
  return s;
}

inline Sweep softmaxes() {
  Attrs axis0{{"axis", attr_i(0)}}, axis1{{"axis", attr_i(1)}};
  return {{{{real({1, 1}, -10, 10)}},
           {{real({7, 1023}, -10, 10)}},
           {{real({1023, 7}, -10, 10)}},
           {{real({1023}, -10, 10)}},
           {{real({7, 1023}, -10, 10)}, axis0},
           {{real({3, 7, 5}, -10, 10)}, axis1}}};
}

inline Sweep class_loss(double lo, double hi) {
  Sweep s;
  s.loss = true;
  for (const Dims& d : kClassShapes)
    s.cases.push_back({{real(d, lo, hi), whole({d[0]}, 0, static_cast<double>(d[1]), d[0] == 7 ? DType::i32 : DType::i64)}});
  return s;
}

inline Sweep pair_loss(const OperandFn& target) {
  Sweep s;
  s.loss = true;
  for (const Dims& d : kLossShapes) s.cases.push_back({{real(d, -3, 3), target(d)}});
  return s;
}

/// batch_norm in train_step (the batch's statistics) and predict (the
/// running ones, drawn with a positive variance). The running statistics
/// are never differentiated, and inference cases not at all: gradients
/// exist only in train_step.
inline Sweep batch_norms() {
  Sweep s;
  auto case_of = [](Dims x, bool training, Attrs attrs = {}) {
    Dims c{x[1]};
    std::vector<Operand> ops = {real(x), real(c, 0.5, 1.5), real(c), fixed(real(c)), fixed(real(c, 0.1, 2))};
    if (!training)
      for (Operand& o : ops) o.trainable = false;
    return Case{ops, std::move(attrs), training};
  };
  Attrs eps{{"epsilon", attr_f(1e-3)}, {"momentum", attr_f(0.3)}};
  for (bool training : {true, false}) {
    s.cases.push_back(case_of({7, 1023}, training));
    s.cases.push_back(case_of({1023, 7}, training));
    s.cases.push_back(case_of({7, 1}, training));
    s.cases.push_back(case_of({3, 7, 5, 5}, training, eps));
    s.cases.push_back(case_of({2, 3, 7}, training));
  }
  return s;
}

inline Attrs dtype_attr(DType t) { return {{"dtype", attr_dtype(t)}}; }

/// Window attributes: any of kernel, strides, pads, dilations; empty ones are left out.
inline Attrs window(Dims kernel, Dims strides = {}, Dims pads = {}, Dims dilations = {}) {
  Attrs a;
  if (!kernel.empty()) a["kernel"] = attr_ints(kernel);
  if (!strides.empty()) a["strides"] = attr_ints(strides);
  if (!pads.empty()) a["pads"] = attr_ints(pads);
  if (!dilations.empty()) a["dilations"] = attr_ints(dilations);
  return a;
}

/// Convolution, pooling and their window primitives: stride 2 and 3,
/// padding, dilation, odd and non-square sizes, 1x1 kernels, and
/// LeNet-5's first layer.
inline void convolutions(std::map<std::string, Sweep>& t) {
  t["conv2d"] = {{{{real({2, 3, 7, 7}, -1, 1), real({4, 3, 3, 3}, -1, 1), real({4})}},
                  {{real({2, 3, 7, 7}, -1, 1), real({4, 3, 3, 3}, -1, 1)}, window({}, {2, 2}, {1, 1})},
                  {{real({1, 2, 9, 8}, -1, 1), real({3, 2, 3, 2}, -1, 1)}, window({}, {1, 1}, {2, 1}, {2, 1})},
                  {{real({2, 5, 5, 5}, -1, 1), real({3, 5, 1, 1}, -1, 1), real({3})}},
                  {{real({2, 2, 6, 7}, -1, 1), real({2, 2, 3, 3}, -1, 1)}, window({}, {3, 2})},
                  {{real({1, 1, 28, 28}, 0, 1), real({6, 1, 5, 5}, -0.4, 0.4), real({6})}, window({}, {}, {2, 2})},
                  {{real({1, 1, 1, 1023}), real({7, 1, 1, 3}), real({7})}, window({}, {1, 2}, {0, 1})}}};
  // The weight gradient is a GEMM summing in float32 (see matmul's row):
  // 1.2e-5 measured over the 512 positions of the [1,1,1,1023] case.
  t["conv2d"].grad_tol = 4e-5;
  // The convolution library calls (oneDNN on cpu, im2col + GEMM on cuda),
  // each pass over the same geometries: each case's image, weight and
  // result dims, then the window (strides, pads, dilations).
  struct Geometry {
    std::vector<int64_t> x, w, y;
    std::vector<int64_t> strides, pads, dilations;
  };
  const Geometry geometries[] = {
      {{2, 3, 7, 7}, {4, 3, 3, 3}, {2, 4, 5, 5}, {}, {}, {}},
      {{2, 3, 7, 7}, {4, 3, 3, 3}, {2, 4, 4, 4}, {2, 2}, {1, 1}, {}},
      {{1, 2, 9, 8}, {3, 2, 3, 2}, {1, 3, 9, 9}, {1, 1}, {2, 1}, {2, 1}},
      {{2, 2, 6, 7}, {2, 2, 3, 3}, {2, 2, 2, 3}, {3, 2}, {}, {}},
      {{2, 5, 5, 5}, {3, 5, 1, 1}, {2, 3, 5, 5}, {}, {}, {}},
      {{1, 1, 28, 28}, {6, 1, 5, 5}, {1, 6, 28, 28}, {}, {2, 2}, {}},      // LeNet-5's first layer
      {{3, 6, 14, 14}, {16, 6, 5, 5}, {3, 16, 10, 10}, {}, {}, {}},        // and its second, 3 images
      {{1, 1, 1, 1023}, {7, 1, 1, 3}, {1, 7, 1, 512}, {1, 2}, {0, 1}, {}},
  };
  for (const Geometry& g : geometries) {
    Attrs a = window({}, g.strides, g.pads, g.dilations);
    Attrs with_image = a, with_kernel = window({g.w[2], g.w[3]}, g.strides, g.pads, g.dilations);
    with_image["image"] = attr_ints({g.x[2], g.x[3]});
    t["conv2d_forward"].cases.push_back({{real(g.x, -1, 1), real(g.w, -1, 1)}, a});
    t["conv2d_input_grad"].cases.push_back({{real(g.y, -1, 1), real(g.w, -1, 1)}, with_image});
    t["conv2d_weight_grad"].cases.push_back({{real(g.x, -1, 1), real(g.y, -1, 1)}, with_kernel});
  }
  // Sums over up to 512 positions (or 150 taps) in float32, as conv2d's.
  for (const char* op : {"conv2d_forward", "conv2d_input_grad", "conv2d_weight_grad"}) t[op].grad_tol = 4e-5;
  t["max_pool2d"] = {{{{real({2, 3, 8, 8})}, window({2, 2})},
                      {{real({1, 2, 7, 9})}, window({3, 3}, {2, 2}, {1, 1})},
                      {{real({2, 1, 5, 5})}, window({2, 2}, {1, 1})},
                      {{real({1, 2, 9, 9})}, window({3, 3}, {2, 2}, {}, {2, 2})},
                      {{real({1, 3, 5, 6})}, window({1, 1}, {2, 2})},
                      {{real({1, 7, 1, 1023})}, window({1, 3}, {1, 2})}}};
  t["avg_pool2d"] = {{{{real({2, 3, 8, 8})}, window({2, 2})},
                      {{real({1, 2, 7, 9})}, window({3, 3}, {2, 2}, {1, 1})},
                      {{real({2, 1, 5, 5})}, window({2, 3}, {1, 2}, {1, 1})},
                      {{real({1, 7, 1, 1023})}, window({1, 3}, {1, 2})}}};
  Attrs fold1 = window({3, 3}, {2, 2}, {1, 1}), fold2 = window({2, 3}, {3, 2}, {0, 1}, {2, 1}),
        fold3 = window({1, 1}, {2, 2}), fold4 = window({1, 3}, {1, 1}, {0, 1}), tiles = window({2, 3}, {2, 3}),
        tiles_but_one_row = window({2, 3}, {2, 3});
  fold1["image"] = attr_ints({7, 7});
  fold2["image"] = attr_ints({8, 6});
  fold3["image"] = attr_ints({6, 5});
  fold4["image"] = attr_ints({1, 1023});
  tiles["image"] = attr_ints({6, 9});
  tiles_but_one_row["image"] = attr_ints({7, 9});
  Attrs padded = window({2, 3}, {1, 1}, {1, 2}, {2, 1});
  padded["pad_value"] = attr_f(-1.5);
  t["extract_patches"] = {{{{real({2, 3, 7, 7})}, window({3, 3}, {2, 2}, {1, 1})},
                           {{real({1, 2, 6, 5})}, padded},
                           {{real({2, 3, 6, 5})}, window({1, 1}, {2, 2})},
                           {{real({1, 7, 1, 1023})}, window({1, 3}, {1, 1}, {0, 1})}}};
  t["fold_patches"] = {{{{real({2, 4, 4, 3, 3, 3})}, fold1},   // stride 2: four phases
                        {{real({1, 2, 3, 2, 2, 3})}, fold2},   // stride 3x2 with dilation: phases without taps
                        {{real({2, 3, 3, 2, 1, 1})}, fold3},   // 1x1 kernel, stride 2
                        {{real({1, 1, 1023, 7, 1, 3})}, fold4},
                        {{real({2, 3, 3, 2, 2, 3})}, tiles},               // windows tile the image: one loop
                        {{real({2, 3, 3, 2, 2, 3})}, tiles_but_one_row}}};  // a row no window reads: phases
}

/// Values for constant's `values` attribute, drawn once.
inline proto::AttrValue random_values(int64_t n, uint64_t seed) {
  return test::attr_floats(test::random_tensor({n}, seed, -3, 3).data);
}

inline std::map<std::string, Sweep> build_sweep_table() {
  std::map<std::string, Sweep> t;
  for (const char* op : {"neg", "abs", "relu", "sign", "square"}) t[op] = unary(-3, 3);
  t["exp"] = unary(-20, 20);
  // Past ±8 sigmoid, tanh and softplus saturate; their emitters switch forms there.
  for (const char* op : {"sigmoid", "tanh", "softplus"}) {
    t[op] = unary(-12, 12);
    t[op].cases.push_back({{real({1023}, -0.01, 0.01)}});
  }
  for (const char* op : {"log", "sqrt", "rsqrt"}) t[op] = unary(0.01, 100);
  // The activations: both sides of 0, past the saturation of tanh and e^x, and near 0.
  for (const char* op : {"leaky_relu", "elu", "gelu", "log_sigmoid"}) {
    t[op] = unary(-12, 12);
    t[op].cases.push_back({{real({1023}, -0.01, 0.01)}});
  }
  t["leaky_relu"].cases.push_back({{real({7, 1023}, -3, 3)}, {{"alpha", attr_f(0.2)}}});
  t["elu"].cases.push_back({{real({7, 1023}, -3, 3)}, {{"alpha", attr_f(0.5)}}});

  for (const char* op : {"add", "sub", "mul", "maximum", "minimum"}) {
    t[op] = binary(reals(), reals());
    t[op].cases.push_back({{whole({7, 1023}, -100, 100, DType::i32), whole({1023}, -100, 100, DType::i32)}});
  }
  t["div"] = binary(reals(), [](Dims d) { return away_from_zero(std::move(d), 0.5, 2); });
  t["pow"] = binary(reals(0.1, 3), reals(-3, 3));  // a positive base: a ** b is real
  // Few distinct values, so ties (where the three differ most) are common.
  for (const char* op : {"greater", "less", "equal"}) {
    t[op] = binary([](Dims d) { return whole(std::move(d), -2, 2, DType::f32); },
                   [](Dims d) { return whole(std::move(d), -2, 2, DType::f32); });
    t[op].cases.push_back({{whole({7, 1023}, -3, 3, DType::i64), whole({7, 1}, -3, 3, DType::i64)}});
    t[op].cases.push_back({{big_ints({7, 1023}), big_ints({1023})}});
  }
  t["sub"].cases.push_back({{big_ints({7, 1023}), big_ints({1023})}});
  t["where"] = {{{{bools({1}), real({1}), real({1})}},
                 {{bools({7}), real({7}), real({7})}},
                 {{bools({1023}), real({1023}), real({1023})}},
                 {{bools({7, 1023}), real({1023}), real({})}},
                 {{bools({7, 1}), real({1, 1023}), real({7, 1023})}},
                 {{bools({}), real({7, 1023}), real({7, 1})}},
                 {{bools({1023}), real({7, 1}), real({1023})}}}};
  t["cast"] = {{{{real({7, 1023}, -50, 50)}, dtype_attr(DType::i32)},
                {{real({1023}, -50, 50)}, dtype_attr(DType::i64)},
                {{real({7})}, dtype_attr(DType::f64)},
                {{real({7, 1023})}, dtype_attr(DType::f32)},
                {{whole({1023}, -1, 2, DType::f32)}, dtype_attr(DType::boolean)},
                {{whole({7}, -100, 100, DType::i32)}, dtype_attr(DType::f32)},
                {{bools({1023})}, dtype_attr(DType::f32)},
                {{whole({1}, 0, 1000, DType::i64)}, dtype_attr(DType::f64)}}};

  t["reduce_sum"] = t["reduce_mean"] = t["reduce_max"] = t["reduce_min"] = t["logsumexp"] = reductions();
  t["stop_gradient"] = {{{{real({1})}}, {{real({7})}}, {{real({7, 1023})}}, {{real({1023, 1})}}}};
  auto iota = [](Dims dims, int64_t axis, DType dt) {
    return Case{{}, {{"dims", attr_ints(dims)}, {"axis", attr_i(axis)}, {"dtype", attr_dtype(dt)}}};
  };
  t["iota"] = {{iota({1}, 0, DType::i64), iota({7}, 0, DType::f32), iota({1023}, -1, DType::i32),
                iota({7, 1023}, 1, DType::f32), iota({7, 1023}, 0, DType::i64), iota({3, 7, 5}, 1, DType::f64)}};
  t["matmul"] = matmuls();
  // cblas_sgemm sums in float32 (the loop and row kernels sum in double).
  // dB = op(A)^T dC for A[1023,7] sums 1023 products of up to 1.5 that
  // cancel to about 0.3: measured error 1.9e-5 on the dev box, and the
  // summation order is OpenBLAS's, which varies with the CPU's kernels.
  t["matmul"].grad_tol = 4e-5;
  t["softmax"] = t["log_softmax"] = softmaxes();
  convolutions(t);
  Attrs axis0{{"axis", attr_i(0)}}, axis1{{"axis", attr_i(1)}};
  t["argmax"] = {{{{real({1})}},
                  {{real({7})}},
                  {{real({1023})}},
                  {{real({7, 1023})}},
                  {{real({7, 1023})}, axis0},
                  {{real({1023, 7})}},
                  {{real({3, 7, 5})}, axis1},
                  {{whole({7, 1023}, -2, 2, DType::f32)}},  // ties: the first max wins
                  {{whole({1023}, -5, 5, DType::i32)}}}};
  t["one_hot"] = {{{{whole({1}, 0, 1, DType::i64)}, {{"depth", attr_i(1)}}},
                   {{whole({7}, 0, 1023, DType::i32)}, {{"depth", attr_i(1023)}}},
                   {{whole({1023}, 0, 7, DType::i64)}, {{"depth", attr_i(7)}}},
                   {{whole({7, 3}, 0, 5, DType::i32)}, {{"depth", attr_i(5)}, {"dtype", attr_dtype(DType::f64)}}}}};

  t["constant"] = {{{{}, {{"value", attr_f(2.5)}, {"dims", attr_ints({7, 1023})}}},
                    {{}, {{"values", random_values(7, 1)}, {"dims", attr_ints({7})}}},
                    {{}, {{"values", random_values(1023, 2)}, {"dims", attr_ints({1023})}}},
                    {{}, {{"value", attr_f(-1)}, {"dims", attr_ints({1})}, {"dtype", attr_dtype(DType::f64)}}},
                    {{}, {{"value", attr_f(7)}, {"dims", attr_ints({1023})}, {"dtype", attr_dtype(DType::i32)}}},
                    {{}, {{"value", attr_f(3)}}}}};
  auto dims = [](Dims d) { return Attrs{{"dims", attr_ints(d)}}; };
  t["reshape"] = {{{{real({7, 1023})}, dims({1023, 7})},
                   {{real({1023})}, dims({3, 341})},
                   {{real({1})}, dims({})},
                   {{real({})}, dims({1, 1})},
                   {{real({7, 1, 1023})}, dims({7, 1023})}}};
  auto perm = [](Dims p) { return Attrs{{"perm", attr_ints(p)}}; };
  t["transpose"] = {{{{real({7, 1023})}},
                     {{real({1023})}},
                     {{real({7, 1})}},
                     {{real({1, 7, 1023})}, perm({2, 0, 1})},
                     {{real({3, 7, 5})}, perm({1, 0, 2})}}};
  t["broadcast_to"] = {{{{real({1023})}, dims({7, 1023})},
                        {{real({7, 1})}, dims({7, 1023})},
                        {{real({})}, dims({1023})},
                        {{real({1})}, dims({7})},
                        {{real({1, 1023})}, dims({7, 1, 1023})},
                        {{real({1023, 1})}, dims({1023, 7})}}};
  auto rate = [](double r) { return Attrs{{"rate", attr_f(r)}}; };
  t["dropout"] = {{{{real({7, 1023})}, rate(0.5), true},
                   {{real({1})}, rate(0.3), true},
                   {{real({1023})}, {{"rate", attr_f(0.5)}, {"key", attr_i(42)}}, true},
                   {{real({7})}, rate(0), true},
                   {{real({7, 1023})}, rate(0.5), false}}};  // inference: the identity

  // One process: the mean over the processes is the value (the multi-process
  // runs: tests/data_parallel/mpi_train_test.sh).
  t["all_reduce_mean"] = {{{{real({7, 1023})}}, {{real({1023})}}, {{real({1})}}, {{real({})}}}};

  t["batch_norm"] = batch_norms();
  // Both forms of a switch; inference cases are fixed: gradients exist only in train_step.
  for (bool training : {true, false})
    for (const Dims& d : kUnaryShapes) {
      Operand a = real(d), b = fixed(real(d));  // the inference value never gets a gradient
      a.trainable = training;
      t["if_training"].cases.push_back({{a, b}, {}, training});
    }
  auto axis = [](int64_t a) { return Attrs{{"axis", attr_i(a)}}; };
  t["flatten"] = {{{{real({7, 1023})}},
                   {{real({3, 7, 5})}},
                   {{real({1, 7, 1023})}, axis(0)},
                   {{real({7, 3, 5})}, axis(-1)},
                   {{real({1023})}, axis(0)}}};

  t["softmax_cross_entropy"] = class_loss(-10, 10);
  t["multiclass_hinge"] = class_loss(-2, 2);
  t["mse"] = t["l1"] = pair_loss(reals(-3, 3));
  t["sigmoid_binary_cross_entropy"] = pair_loss([](Dims d) { return fixed(real(std::move(d), 0, 1)); });
  t["sigmoid_binary_cross_entropy"].cases.push_back({{real({1023}, -10, 10), whole({1023}, 0, 2, DType::i32)}});
  t["logistic"] = pair_loss([](Dims d) { return signs(std::move(d), DType::f32); });
  t["logistic"].cases.push_back({{real({7, 1023}, -5, 5), signs({7, 1023}, DType::i64)}});
  return t;
}

inline const std::map<std::string, Sweep>& sweep_table() {
  static const std::map<std::string, Sweep> table = build_sweep_table();
  return table;
}


// --- the graphs -------------------------------------------------------------------

inline Tensor draw(const Operand& o, uint64_t seed) {
  Tensor t(TensorType{o.dtype, o.dims});
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(o.lo, o.hi);
  for (double& v : t.data) {
    double x = u(rng);
    if (o.draw == Operand::Draw::magnitude && rng() % 2) x = -x;
    if (o.draw == Operand::Draw::integers) x = std::floor(x);
    if (o.draw == Operand::Draw::signs) x = rng() % 2 ? 1.0 : -1.0;
    v = o.dtype == DType::f32 ? static_cast<double>(static_cast<float>(x)) : x;
  }
  return t;
}

/// "y3_7x1023_1023": case index and operand shapes ("s" for a scalar).
inline std::string value_name(size_t i, const Case& c) {
  std::string s = "y" + std::to_string(i);
  for (const Operand& o : c.operands) {
    s += "_";
    if (o.dims.empty()) s += "s";
    for (size_t k = 0; k < o.dims.size(); ++k) s += (k ? "x" : "") + std::to_string(o.dims[k]);
  }
  return s;
}

inline uint64_t operand_seed(const std::string& op, size_t i, size_t j) { return fnv1a64(op) + 97 * i + j; }

inline std::vector<TensorType> operand_types(const Case& c) {
  std::vector<TensorType> types;
  for (const Operand& o : c.operands) types.push_back({o.dtype, o.dims});
  return types;
}

/// One graph of a sweep: an entry to lower and run, the feeds for every
/// input and parameter, and the tolerance of the comparison.
struct SweepGraph {
  Graph graph;
  EntrySpec entry;  // predict (forward) or train_step (gradients); entry.training: the mode
  std::map<std::string, Tensor> feeds;
  double tol = kTolerance;
  int cases = 0;  // cases of the row in the graph; 0: nothing to run in this mode
};

/// Forward: every case of `op` in `training` mode as one graph.
inline SweepGraph forward_graph(const std::string& op, const Sweep& s, bool training) {
  SweepGraph sg;
  GraphBuilder b(sg.graph);
  std::vector<std::string> outputs;
  for (size_t i = 0; i < s.cases.size(); ++i) {
    const Case& c = s.cases[i];
    if (c.training != training) continue;
    ++sg.cases;
    std::vector<std::string> ins;
    for (size_t j = 0; j < c.operands.size(); ++j) {
      std::string name = "c" + std::to_string(i) + "_x" + std::to_string(j);
      ins.push_back(b.input(name, {c.operands[j].dtype, c.operands[j].dims}));
      sg.feeds[name] = draw(c.operands[j], operand_seed(op, i, j));
    }
    outputs.push_back(b.op(op, ins, c.attrs, value_name(i, c)));
    b.output(outputs.back());
  }
  if (sg.cases) verify_or_throw(sg.graph);
  sg.entry = {"predict", outputs, {}, training};
  return sg;
}

/// A case the gradient sweep can use: a float output and an operand to differentiate.
inline bool differentiable(const std::string& op, const Case& c) {
  if (!is_float(test::infer_type(op, operand_types(c), c.attrs).dtype)) return false;
  for (const Operand& o : c.operands)
    if (o.trainable && is_float(o.dtype)) return true;
  return false;
}

/// Gradients: the trainable operands of every differentiable case become
/// parameters; loss = Σ_cases reduce_sum(y · w) with a random fixed w (or
/// y itself, for every other case of a loss op). The entry's outputs are
/// the loss and every gradient in Model::gradients.
inline SweepGraph gradient_graph(const std::string& op, const Sweep& s, bool training) {
  SweepGraph sg;
  sg.tol = s.grad_tol;
  Model m;
  m.source = "sweep";
  GraphBuilder b(m.graph);
  std::string loss;
  for (size_t i = 0; i < s.cases.size(); ++i) {
    const Case& c = s.cases[i];
    if (c.training != training || !differentiable(op, c)) continue;
    ++sg.cases;
    std::vector<std::string> ins;
    for (size_t j = 0; j < c.operands.size(); ++j) {
      const Operand& o = c.operands[j];
      std::string name = "c" + std::to_string(i) + "_x" + std::to_string(j);
      TensorType type{o.dtype, o.dims};
      proto::Initializer zeros;  // replaced by the feed
      zeros.mutable_zeros();
      ins.push_back(o.trainable && is_float(o.dtype) ? b.param(name, type, zeros) : b.input(name, type));
      sg.feeds[name] = draw(o, operand_seed(op, i, j));
    }
    std::string y = b.op(op, ins, c.attrs, value_name(i, c));
    std::string term = y;
    if (!s.loss || i % 2 == 1) {
      std::string w = "c" + std::to_string(i) + "_w";
      TensorType wt = b.type(y);
      sg.feeds[w] = draw(real(wt.dims, 0.5, 1.5), operand_seed(op, i, 99));
      sg.feeds[w].type.dtype = wt.dtype;
      term = b.reduce_sum(b.mul(y, b.input(w, wt)), {});
    }
    if (b.type(term).dtype != DType::f32) term = b.cast(term, DType::f32);
    loss = loss.empty() ? term : b.add(loss, term);
  }
  if (!sg.cases) return sg;
  m.training.set_loss(loss);
  m.training.mutable_optimizer()->set_kind("sgd");  // the verifier wants one; only autodiff runs
  verify_or_throw(m);
  EXPECT_TRUE(AutodiffPass().run(m));
  verify_or_throw(m);
  std::vector<std::string> outputs = {loss};
  for (const auto& [param, grad] : m.gradients)
    if (std::find(outputs.begin(), outputs.end(), grad) == outputs.end()) outputs.push_back(grad);
  sg.graph = std::move(m.graph);
  sg.entry = {"train_step", outputs, {}, training};
  return sg;
}

// --- the parameterized tests -------------------------------------------------------

enum class Direction { forward, gradient };

/// The registered ops, all of them or those the gradient sweep covers.
inline std::vector<std::string> registered_ops(Direction d) {
  std::vector<std::string> names;
  // A composite's gradient is its expansion's: swept like any rule. These
  // pass no gradient at all: integer results or inputs, or "none" by design.
  static const std::set<std::string> no_gradient = {"argmax", "one_hot", "stop_gradient"};
  for (const auto& [name, def] : OpRegistry::get().all()) {
    bool differentiable = (def.grad || def.lowering == Lowering::expansion) && !no_gradient.count(name);
    if (d == Direction::forward || differentiable) names.push_back(name);
  }
  return names;
}

inline std::string param_name(const testing::TestParamInfo<std::string>& info) { return info.param; }

/// The graphs of `op`'s sweep in `d` for both modes (inference, then
/// training), those with cases only. Fails the test, naming the op, when
/// the op has no row or (gradients) no differentiable case.
inline std::vector<SweepGraph> sweep_graphs(const std::string& op, Direction d) {
  std::vector<SweepGraph> graphs;
  auto row = sweep_table().find(op);
  if (row == sweep_table().end()) {
    ADD_FAILURE() << "op " << op << " has no sweep case";
    return graphs;
  }
  for (bool training : {false, true}) {
    SweepGraph sg = d == Direction::forward ? forward_graph(op, row->second, training)
                                            : gradient_graph(op, row->second, training);
    if (sg.cases) graphs.push_back(std::move(sg));
  }
  if (d == Direction::gradient && graphs.empty()) {
    ADD_FAILURE() << "op " << op << " has a gradient rule but no differentiable sweep case";
  }
  return graphs;
}

}  // namespace dlc::test::sweep
