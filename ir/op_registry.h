// The op registry: everything dlc knows about an op, in one entry.
//
// Adding an op means adding one OpDef (in the ir/ops/ file for its family)
// and its tests; no other file changes.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ir/convolution.h"
#include "ir/graph.h"
#include "ir/scalar_expr.h"
#include "ir/tensor.h"

namespace dlc {

class GraphBuilder;

/// How an op becomes kernels. Fusion and lowering read this field (and the
/// field it names), never the op's name.
enum class Lowering {
  elementwise,  // `expr`: a scalar expression per element with broadcasting; inlined into loops
  reduction,    // `reduction` over the `axes` attribute: the root of a (row) kernel;
                // element-wise producers fuse in, consumers of its rows join it
  index_map,    // `index_map`: each output element is one input element (transpose,
                // broadcast_to, stop_gradient); free inside loops
  reshape,      // the same elements in row-major order with new dims
  iota,         // the index along the `axis` attribute: a loop index inside loops
  constant,     // a `value` fill (inlined) or `values` data (a constant buffer)
  gemm,         // a library call (matmul of f32: BLAS or cuBLAS)
  random,       // identity outside training; in training inlined over a mask load (dropout)
  window,       // `window`: loop kernels reading the input at coordinates affine in the loop
                // index, out-of-range reads yielding a pad (patches of a convolution, their sum back)
  expansion,    // `expand`: rewritten into primitive ops before autodiff (composites)
  training_switch,  // input 0 in train_step, input 1 otherwise; resolved per entry before fusion (ir/ops/norm.cc)
  collective,   // combined over the processes of a data-parallel run: every such node of an entry
                // point is one kernel step (a bucket), reading its inputs from memory (ir/ops/collective.cc)
  convolution,  // `conv_pass` of a 2-D convolution over dense tensors (`conv_geometry`): a library call
                // (oneDNN on cpu). Targets without one (cuda) apply `expand` first: im2col + GEMM
};

/// What a Lowering::reduction op combines.
enum class ReduceKind { sum, mean, max, min };

/// For Lowering::index_map: which input element each output element reads.
/// `out_map[i]` is the loop dim output dim i follows (-1: index 0); returns
/// the same for each input dim.
using IndexMapFn = std::function<std::vector<int>(const Node& n, const std::vector<int64_t>& in_dims,
                                                  const std::vector<int64_t>& out_dims,
                                                  const std::vector<int>& out_map)>;

/// One coordinate of a window loop: offset + sum over the loop dims d of
/// idx[d] * coefs[d].
struct WindowCoord {
  int64_t offset = 0;
  std::vector<int64_t> coefs;
  bool operator==(const WindowCoord&) const = default;
};

/// One loop kernel of a Lowering::window op over its single input: for every
/// index of `dims` it reads the input element at coordinates `in` (one per
/// input dim; where one leaves [0, dim) the read yields `pad`), sums over the
/// innermost `reduce_dims` dims, and writes the output element at
/// coordinates `out` (one per output dim, not moving along reduced dims).
/// The loops of one node write every output element exactly once.
struct WindowLoop {
  std::vector<int64_t> dims;
  int reduce_dims = 0;
  std::vector<WindowCoord> in;
  double pad = 0;
  std::vector<WindowCoord> out;
};

/// For Lowering::convolution: the convolution's geometry, from the node and
/// its inputs' dims.
using ConvGeometryFn = std::function<ConvGeometry(const Node& n, const std::vector<std::vector<int64_t>>& in_dims)>;

/// For Lowering::window: the loops computing node `n`.
using WindowFn = std::function<std::vector<WindowLoop>(const Node& n, const std::vector<int64_t>& in_dims,
                                                       const std::vector<int64_t>& out_dims)>;

enum class AttrKind { i, f, s, ints, dtype, b, floats };

struct AttrSpec {
  std::string name;
  AttrKind kind;
  bool required = false;
};

/// State the interpreter passes to kernels that depend on the run.
struct EvalContext {
  bool training = false;
  uint64_t seed = 0;
  uint64_t step = 0;
  int64_t node_index = 0;  // distinguishes random streams of different nodes
  /// Data-parallel runs: replaces the `n` values at `data` by their mean over
  /// the processes, in place (the same call on every process). Empty: one
  /// process, where the mean is the value itself.
  std::function<void(double* data, int64_t n)> all_reduce_mean;
};

/// Infers output types from input types; returns an error text (without the
/// node name, which the caller adds) or "" on success.
using ShapeFn = std::function<std::string(const Node& n, const std::vector<TensorType>& in,
                                          std::vector<TensorType>* out)>;

/// Computes outputs (already sized to their inferred types) from inputs.
using RefKernel = std::function<void(const Node& n, const std::vector<const Tensor*>& in,
                                     std::vector<Tensor>& out, const EvalContext& ctx)>;

/// The per-element body of an element-wise op over its operands.
using ExprFn = std::function<SExpr(Args operands, const Node& n)>;

/// Emits primitive ops computing the node's outputs from its inputs;
/// returns one value per output, or nothing to keep the node as it is.
using ExpandFn = std::function<std::vector<std::string>(GraphBuilder& b, const Node& n)>;

/// Emits graph ops computing the gradient of each input from the gradients
/// of the outputs (`dy`, one per output, "" when that output gets none).
/// Returns one value per input, "" where the input gets no gradient
/// (labels, indices). Never called for non-differentiable ops.
using GradFn = std::function<std::vector<std::string>(GraphBuilder& b, const Node& n,
                                                      const std::vector<std::string>& dy)>;

struct OpDef {
  std::string name;
  int min_inputs = 1;
  int max_inputs = 1;
  int num_outputs = 1;
  std::vector<AttrSpec> attrs;
  ShapeFn infer;
  RefKernel eval;  // filled from `expr` for element-wise ops
  ExprFn expr;     // element-wise ops only
  GradFn grad;     // empty: not differentiable (composites get theirs from their expansion)
  Lowering lowering = Lowering::expansion;
  ReduceKind reduction = ReduceKind::sum;  // Lowering::reduction only
  IndexMapFn index_map;                    // Lowering::index_map only
  WindowFn window;                         // Lowering::window only
  ConvPass conv_pass = ConvPass::forward;  // Lowering::convolution only
  ConvGeometryFn conv_geometry;            // Lowering::convolution only
  /// Composites (Lowering::expansion) always; other ops where some of their
  /// uses are better as primitives (matmul of integers: a reduction);
  /// Lowering::convolution ops for targets without a convolution library
  /// (expand_composites' `convolutions_as_gemm`).
  ExpandFn expand;
  /// Draws random numbers (through EvalContext): two such nodes are never
  /// one, and none is computed at compile time.
  bool random = false;
  std::string doc;  // one line, shown by `dlc ops`
};

/// The table of ops. Built once, on first use.
class OpRegistry {
 public:
  static const OpRegistry& get();
  const OpDef* find(const std::string& name) const;
  const std::map<std::string, OpDef>& all() const { return ops_; }

  /// Adds an op; element-wise ops get their reference kernel from `expr`.
  void add(OpDef def);

 private:
  std::map<std::string, OpDef> ops_;
};

const char* lowering_name(Lowering l);

/// Shorthand for OpRegistry::get().find(name).
inline const OpDef* find_op(const std::string& name) { return OpRegistry::get().find(name); }

// Registration functions, one per ir/ops/ file.
void register_elementwise_ops(OpRegistry& r);
void register_reduction_ops(OpRegistry& r);
void register_shape_ops(OpRegistry& r);
void register_nn_ops(OpRegistry& r);
void register_loss_ops(OpRegistry& r);
void register_random_ops(OpRegistry& r);
void register_index_ops(OpRegistry& r);
void register_conv_ops(OpRegistry& r);
void register_norm_ops(OpRegistry& r);
void register_collective_ops(OpRegistry& r);

// Shape rules shared by several families.
/// Numpy broadcasting of all inputs; float or matching dtypes.
std::string infer_broadcast(const Node& n, const std::vector<TensorType>& in,
                            std::vector<TensorType>* out);
/// The index map of numpy broadcasting: input dims that broadcast (size 1
/// against a larger output dim) read index 0, the rest follow the output.
std::vector<int> broadcast_index_map(const std::vector<int64_t>& in_dims, const std::vector<int64_t>& out_dims,
                                     const std::vector<int>& out_map);
/// The reference kernel of an element-wise op: broadcast then apply `expr`.
RefKernel elementwise_kernel(ExprFn expr);

/// The random stream key of a dropout node: its `key` attribute, else the
/// FNV-1a hash of its name (ir/ops/random.cc). Kernels draw its mask with it.
uint64_t dropout_key(const Node& n);

}  // namespace dlc
