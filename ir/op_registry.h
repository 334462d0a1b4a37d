// The op registry: everything dlc knows about an op, in one entry.
//
// Adding an op means adding one OpDef (in the ir/ops/ file for its family)
// and its tests; no other file changes.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/scalar_expr.h"
#include "ir/tensor.h"

namespace dlc {

class GraphBuilder;

/// How fusion treats an op.
enum class FusionClass {
  elementwise,  // per-element scalar expression with broadcasting; fuses freely
  reduction,    // reduces axes; element-wise producers fuse into it
  library,      // a library call (GEMM)
  shape,        // reshape/transpose/broadcast: index remapping only
  opaque,       // its own kernel (softmax, losses, one_hot, ...)
};

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
  GradFn grad;     // empty: not differentiable
  FusionClass fusion = FusionClass::opaque;
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

/// Shorthand for OpRegistry::get().find(name).
inline const OpDef* find_op(const std::string& name) { return OpRegistry::get().find(name); }

// Registration functions, one per ir/ops/ file.
void register_elementwise_ops(OpRegistry& r);
void register_reduction_ops(OpRegistry& r);
void register_shape_ops(OpRegistry& r);
void register_nn_ops(OpRegistry& r);
void register_loss_ops(OpRegistry& r);
void register_random_ops(OpRegistry& r);

// Shape rules shared by several families.
/// Numpy broadcasting of all inputs; float or matching dtypes.
std::string infer_broadcast(const Node& n, const std::vector<TensorType>& in,
                            std::vector<TensorType>* out);
/// The reference kernel of an element-wise op: broadcast then apply `expr`.
RefKernel elementwise_kernel(ExprFn expr);

}  // namespace dlc
