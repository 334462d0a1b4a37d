// The kernel IR: what fusion produces and every backend consumes.
//
// A Program is one entry point ("train_step", "predict") lowered to an
// ordered list of Steps over numbered Buffers. Steps run one after another;
// a step sees every write of the steps before it. Backends (LLVM for cpu,
// NVRTC for cuda) and the float64 evaluator (reference/kernel_ir_eval.h)
// consume the same Program; none of them needs the graph.
//
// Conventions every consumer relies on:
// - Buffers are dense, row-major, little-endian elements of their dtype
//   (bool is one byte, 0 or 1). Offsets, strides and sizes are in ELEMENTS,
//   except Buffer::offset (the arena offset), which is in BYTES.
// - A loop kernel computes in float32 on cpu/cuda (float64 in the evaluator):
//   a load converts its buffer's dtype to float; a store converts back
//   (integers truncate toward zero, bool stores 1 for any non-zero value).
// - A loop kernel reads every load of an iteration before it stores that
//   iteration's outputs. A store may target a buffer the kernel also loads
//   ONLY with the identical index map (in-place element-wise update); any
//   other overlap never occurs, so iterations of the outer (non-reduced)
//   dims are independent and may run in parallel in any order.
// - Reductions combine in a fixed order (the reduced dims in row-major
//   order), so results never depend on the thread count.
//
// kernel_ir.cc depends on dlc_ir only (no LLVM, no passes), so the runtime
// can load programs with program_from_proto; if libdlrt needs it, the file
// can join the runtime's sources unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ir/convolution.h"
#include "ir/graph.h"
#include "ir/scalar_expr.h"
#include "ir/types.h"

namespace dlc {

// ---------------------------------------------------------------------------
// Buffers

enum class BufferKind {
  input,     // an entry-point input, bound by the caller (name = input name)
  output,    // an entry-point output, read by the caller (name = graph value)
  state,     // a parameter or optimizer state, persistent across calls (name = parameter)
  temp,      // an intermediate; lives in the arena at `offset`
  constant,  // read-only data baked into the program (`data`)
};

struct Buffer {
  int id = -1;              // index in Program::buffers
  std::string name;         // graph value it holds (for temps: the first value stored)
  BufferKind kind = BufferKind::temp;
  DType dtype = DType::f32;
  std::vector<int64_t> dims;  // bound shape; the data is dense row-major
  int64_t numel = 0;
  int64_t offset = -1;      // BYTES into the arena; temps only, set by plan_memory
  std::vector<double> data; // constants only: numel values

  int64_t bytes() const { return numel * dtype_size(dtype); }
};

// ---------------------------------------------------------------------------
// Loop kernels

/// What a mask load yields instead of memory (see Access::mask): the keep
/// bit of a dropout node in training. The node's key and rate are fixed in
/// the program; the seed and the step number are the run's.
struct DropoutMask {
  uint64_t key = 0;  // the node's stream key (its `key` attribute or FNV-1a of its name)
  float rate = 0;    // the f32 the uniform draw is compared with (ir/philox.h)
  bool operator==(const DropoutMask&) const = default;
};

/// One coordinate of a guarded load (Access::guards): the value
/// offset + sum over the iteration dims d of idx[d] * coefs[d], which must lie
/// in [0, extent) for the load to read memory. `stride` is the coordinate's
/// element stride in the buffer: a guarded access's strides are exactly the
/// sum of stride x coefs over its guards and its offset that of stride x
/// offset plus a base >= 0, so check_program can tell that every element it
/// reads where its guards hold lies in the buffer.
struct Guard {
  int64_t offset = 0;
  std::vector<int64_t> coefs;  // one per iteration dim
  int64_t extent = 0;
  int64_t stride = 0;
  bool operator==(const Guard&) const = default;
};

/// Where a kernel reads or writes: element index = offset + sum over the
/// iteration dims d of idx[d] * strides[d]. A stride of 0 is a broadcast
/// dim; permuted strides are a transpose. strides.size() == dims.size() of
/// the kernel, always (stores in a reduction kernel have stride 0 on every
/// reduced dim).
struct Access {
  int buffer = -1;
  int64_t offset = 0;
  std::vector<int64_t> strides;
  /// Loads only: when >= 0 the load reads no memory and yields idx[iota_dim]
  /// as a float (buffer is -1). Lets one_hot-like comparisons fuse.
  int iota_dim = -1;
  /// Loads only: when set the load reads no memory (buffer is -1) and yields
  /// 1 where dropout keeps element `offset + sum idx[d] * strides[d]` of its
  /// output, else 0: dropout_keep(seed, mask->key, step, that index,
  /// mask->rate) (ir/philox.h), with the seed and step number executors pass
  /// to every kernel (kernel/cpu_abi.h, kernel/cuda_abi.h). So dropout fuses
  /// into its neighbours and draws the reference's mask bit for bit.
  std::optional<DropoutMask> mask;
  /// Loads only: when not empty the load reads memory only where every
  /// guard's coordinate is in range and yields `pad` elsewhere: the zero
  /// padding of a convolution's patches, the -inf of max pooling, the taps a
  /// strided window never reaches.
  std::vector<Guard> guards;
  double pad = 0;

  /// True for loads of a buffer (neither an iota nor a mask).
  bool reads_memory() const { return iota_dim < 0 && !mask; }
};

enum class ReduceOp {
  none,  // unused in Reduction; kept so 0 never means "sum" in a file
  sum,   // init 0, combine a + b
  max,   // init -inf, combine max(a, b) (NaN propagates, as ScalarOp::max)
  min,   // init +inf, combine min(a, b) (NaN propagates, as ScalarOp::min)
};

/// One accumulator of a reduction kernel.
struct Reduction {
  ReduceOp op = ReduceOp::sum;
  /// Evaluated at every (outer, reduced) index over arg(i) = loads[i] and
  /// arg(loads.size() + j) = the final value of an EARLIER accumulator j.
  SExpr body;
};

/// One output of a loop kernel: `value` is stored through `at`.
struct Store {
  Access at;
  SExpr value;
  /// Reduction kernels only: the store runs for every index of the reduced
  /// dims (after every accumulator of its outer index is final) instead of
  /// once per outer index. Softmax's normalized row is such a store.
  bool per_element = false;
};

/// A fused loop nest over `dims`.
///
/// Element-wise (no reductions): for every index idx of `dims`, each
/// store's `value` is evaluated with arg(i) = loads[i] at idx and stored.
///
/// Reduction kernel (one or more reductions, `reduce_dims` >= 1): the
/// innermost `reduce_dims` dims are reduced; each outer index o is a "row"
/// computed independently of the others:
///   for each reduction j in order: acc_j = init; for every reduced index r
///     (row-major), acc_j = combine(acc_j, body_j at (o, r));
///   each store that is not per_element is evaluated once at (o, 0...0),
///     whose loads have stride 0 on every reduced dim (checked);
///   each per_element store is evaluated at every (o, r), in row-major r.
/// Accumulators appear as arg(loads.size() + j) in later bodies and stores.
/// So softmax is one kernel: max, then the sum of exp(x - max), then a
/// per-element store of exp(x - max) / sum.
struct LoopKernel {
  std::vector<int64_t> dims;   // iteration space, outermost first; any rank >= 0
  int reduce_dims = 0;         // innermost dims reduced (0 for element-wise)
  std::vector<Reduction> reductions;  // empty for element-wise kernels
  std::vector<Access> loads;
  std::vector<Store> stores;   // at least one

  bool reduces() const { return !reductions.empty(); }
  bool has_per_element_stores() const;
  int64_t outer_numel() const;  // product of the non-reduced dims
  int64_t reduce_numel() const; // product of the reduced dims (1 if none)
};

/// The initial accumulator of a reduction: 0 for sum, -inf for max, +inf for min.
double reduce_init(ReduceOp op);

// ---------------------------------------------------------------------------
// Library calls

/// One GEMM operand: a row-major matrix at `offset` with leading dim `ld`,
/// used transposed when `trans` is set (BLAS semantics).
struct GemmOperand {
  int buffer = -1;
  int64_t offset = 0;
  int64_t ld = 0;
  bool trans = false;
  int64_t batch_stride = 0;  // elements between consecutive batch matrices (0: shared)
};

/// C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b] for b < batch, all f32,
/// row-major; C has `ldc` = n unless stated. When `epilogue` has stores, it
/// runs right after the GEMM (a fused loop on cpu, a cuBLASLt epilogue or a
/// loop on cuda); it reads C like any other buffer.
struct GemmCall {
  int64_t m = 0, n = 0, k = 0;
  int64_t batch = 1;
  double alpha = 1, beta = 0;
  GemmOperand a, b, c;
  LoopKernel epilogue;  // empty stores: none
  bool has_epilogue() const { return !epilogue.stores.empty(); }
};

/// A dense operand of a convolution: its buffer and first element.
struct ConvOperand {
  int buffer = -1;
  int64_t offset = 0;
};

/// One pass of a 2-D convolution (ir/convolution.h) over dense f32 tensors:
/// the image [N,C,H,W], the weight [O,C,KH,KW] and the result [N,O,OH,OW].
/// The pass overwrites one of them (forward: the result; input_grad: the
/// image; weight_grad: the weight) from the other two, which it only reads
/// and which never share bytes with it. Executors call a library (oneDNN on
/// cpu) unless `generated`; the float64 evaluator sums the products directly.
struct ConvCall {
  ConvPass pass = ConvPass::forward;
  ConvGeometry geometry;
  ConvOperand image, weight, result;
  /// cpu only: the pass is a generated kernel (kernel_symbol of its step,
  /// over the images), not a library call. The cpu codegen sets it for the
  /// small convolutions it computes faster (compiler/codegen/cpu/
  /// convolution_emitter.h).
  bool generated = false;

  const ConvOperand& written() const {
    return pass == ConvPass::forward ? result : pass == ConvPass::input_grad ? image : weight;
  }
  /// The elements the pass writes.
  int64_t written_numel() const {
    return pass == ConvPass::forward      ? geometry.result_numel()
           : pass == ConvPass::input_grad ? geometry.image_numel()
                                          : geometry.weight_numel();
  }
};

// ---------------------------------------------------------------------------
// Copies

/// dst[dst_offset + i] = src[src_offset + i] for i < numel (same dtype).
/// Used for state updates that could not be written in place and for
/// outputs that alias an input or a parameter.
struct CopyStep {
  int src = -1, dst = -1;
  int64_t src_offset = 0, dst_offset = 0;
  int64_t numel = 0;
};

// ---------------------------------------------------------------------------
// Collectives

/// dst[k] = the mean over the processes of a data-parallel run of src[k],
/// element by element, for every k: the gradients (and the loss and running
/// statistics) of a train step compiled with --data-parallel, in one bucket
/// so a step pays the network's latency once. Every process of the run
/// executes the same step with buffers of the same sizes; the sum runs in
/// rank order, so every process gets the same bits and a rerun with the same
/// number of processes repeats them. Run by one process it copies. Each
/// pair has one float dtype and one size; dst buffers are distinct, none is
/// an input or a constant, and none is a src except its own (in place:
/// src[k] == dst[k], a gradient no later step reads).
struct AllReduceStep {
  std::vector<int> src, dst;
};

// ---------------------------------------------------------------------------
// Steps and programs

struct Step {
  std::variant<LoopKernel, GemmCall, CopyStep, AllReduceStep, ConvCall> body;
  /// The graph nodes this step computes (for --explain-fusion, --verify-fusion).
  std::vector<std::string> nodes;
  /// Graph values this step stores, each with the buffer holding it (dense,
  /// row-major, the value's own shape) when the step ends: what
  /// --verify-fusion compares. (A GEMM result its epilogue overwrites in
  /// place is not listed.)
  std::vector<std::pair<std::string, int>> values;

  const LoopKernel* loop() const { return std::get_if<LoopKernel>(&body); }
  const GemmCall* gemm() const { return std::get_if<GemmCall>(&body); }
  const CopyStep* copy() const { return std::get_if<CopyStep>(&body); }
  const AllReduceStep* all_reduce() const { return std::get_if<AllReduceStep>(&body); }
  const ConvCall* conv() const { return std::get_if<ConvCall>(&body); }
  /// "loop", "gemm", "copy", "all_reduce" or "conv".
  const char* kind_name() const;
};

/// One entry point, lowered.
struct Program {
  std::string entry;      // "train_step" or "predict"
  bool training = false;  // dropout active (its kernels load masks)
  std::vector<Buffer> buffers;
  std::vector<Step> steps;
  /// Bytes of the temp arena (max over temps of offset + bytes, 64-aligned).
  int64_t arena_bytes = 0;
  /// The sum of all temps' bytes: what the arena would be without planning.
  int64_t unplanned_bytes = 0;
  /// One line per fusion decision, e.g. "kernel 3: relu, add (elementwise group)".
  std::vector<std::string> explain;

  /// The buffer of `kind` named `name`, or -1.
  int find_buffer(BufferKind kind, const std::string& name) const;
  /// Number of steps that are kernels (loops, GEMMs and convolutions: not
  /// copies or collectives).
  int kernel_count() const;
  /// True when some step is an all_reduce (a data-parallel train step).
  bool has_collectives() const;
};

const char* buffer_kind_name(BufferKind k);
const char* reduce_op_name(ReduceOp op);

/// Readable text, one step per few lines; stable for golden tests and --dump.
std::string print_program(const Program& p);

/// Checks every buffer index, stride count and expression argument; throws
/// dlc::Error naming the step at fault. Executors call it on load, so a bad
/// file is an error, never a crash.
void check_program(const Program& p);

/// A hash of everything in `programs` that generated code relies on (every
/// buffer's kind, type, shape and arena offset, every step's sizes and index
/// maps). Native code carries the value it was generated for, and executors
/// refuse code whose value differs from that of the executable's programs, so
/// a file whose programs were altered never runs kernels over wrong buffers.
uint64_t program_fingerprint(const std::vector<Program>& programs);

/// Serialization into the executable (ir/dlc.proto `KernelProgram`).
proto::KernelProgram program_to_proto(const Program& p);
/// Throws dlc::Error when the message is malformed (runs check_program).
Program program_from_proto(const proto::KernelProgram& p);

}  // namespace dlc
