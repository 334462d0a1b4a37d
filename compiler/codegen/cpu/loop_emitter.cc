#include "compiler/codegen/cpu/loop_emitter.h"

#include <llvm/IR/IRBuilder.h>

#include <functional>
#include <map>
#include <set>

#include "compiler/codegen/cpu/emit_util.h"
#include "compiler/codegen/cpu/loop_shape.h"
#include "compiler/codegen/cpu/philox_emitter.h"
#include "compiler/codegen/cpu/scalar_emitter.h"
#include "ir/scalar_walk.h"

namespace dlc::cpu {
namespace {

// Outputs reduced together in column order: enough for long vector loops,
// small enough that the accumulators stay in L1.
constexpr int64_t kColumnBlock = 256;

// Row reductions over at most this many elements per output (a pooling
// window, a row of class scores) are unrolled into straight-line code: a
// loop of 2 or 4 iterations per output costs more in loop control than in
// arithmetic, and with the loop gone the loop over outputs can vectorize.
constexpr int64_t kMaxUnrolledReduction = 16;
// ... and only while the copies stay small: taps x the scalar nodes of the
// bodies and per-element stores (a deep fused chain is left as a loop, or
// LLVM's time grows with every copy).
constexpr int64_t kMaxUnrolledNodes = 256;
// Element-wise kernels whose innermost dim is at most this long (a pooling
// window's row, a pair of interleaved values) unroll it into the loop over
// the dim outside it, which then vectorizes with interleaved accesses: a
// loop of 2 per element of a row runs scalar (LeNet-5's pooling gradients).
constexpr int64_t kMaxUnrolledInner = 4;
// ... when the loop it is unrolled into runs at least this many times: a
// vector loop of fewer iterations is mostly masked lanes (LeNet-5's second
// pooling gradient, 5 per row: 0.19 -> 0.48 ms unrolled).
constexpr int64_t kMinUnrolledInto = 8;

// Each distinct node once (ir/scalar_walk.h): a per-path walk is exponential in a DAG's depth.
void args_of(const SExpr& e, std::set<int>* out) {
  for (int a : scalar_args({e.get()})) out->insert(a);
}

class LoopEmitter {
 public:
  LoopEmitter(llvm::Module& m, const Program& p, const LoopKernel& k, const std::string& name)
      : m_(m), p_(p), k_(k), b_(m.getContext()), shape_(canonical_shape(k)) {
    frame_ = begin_kernel(m, b_, name, shape_.parallel_range(), shape_.work_per_item());
    entry_ = b_.GetInsertBlock();
    for (const auto& l : k_.loads)
      if (l.reads_memory()) address(l.buffer);
    for (const auto& s : k_.stores) {
      address(s.at.buffer);
      stored_.insert(s.at.buffer);
    }
    // A temp sharing arena bytes with a stored temp (in-place reuse by the
    // memory plan) counts as stored too: its loads must not be hoisted.
    for (const auto& l : k_.loads)
      if (l.reads_memory() && shares_bytes_with_a_store(l.buffer)) stored_.insert(l.buffer);
    idx_.assign(shape_.dims.size(), nullptr);
    // Float32 holds integers exactly only up to 2^24: a kernel that touches
    // an integer or f64 buffer computes in double.
    value_type_ = b_.getFloatTy();
    for (const auto& l : k_.loads)
      if (l.reads_memory() && needs_double(p_.buffers[l.buffer].dtype)) value_type_ = b_.getDoubleTy();
    for (const auto& st : k_.stores)
      if (needs_double(p_.buffers[st.at.buffer].dtype)) value_type_ = b_.getDoubleTy();
  }

  /// Whether emit() unrolled the rows (emit_unrolled_reduction).
  bool unrolled_rows() const { return unrolled_rows_; }

  void emit() {
    if (!k_.reduces()) emit_elementwise();
    else if (shape_.order == ReduceOrder::column) emit_column_reduction();
    else emit_inner_reduction();
    b_.CreateRetVoid();
  }

 private:
  // --- addresses and accesses ----------------------------------------------

  bool shares_bytes_with_a_store(int buffer) const {
    const Buffer& a = p_.buffers[buffer];
    if (a.kind != BufferKind::temp) return false;
    for (const auto& s : k_.stores) {
      const Buffer& b = p_.buffers[s.at.buffer];
      if (b.kind == BufferKind::temp && a.offset < b.offset + b.bytes() && b.offset < a.offset + a.bytes()) return true;
    }
    return false;
  }

  llvm::Value* address(int buffer) {
    auto it = addresses_.find(buffer);
    if (it != addresses_.end()) return it->second;
    return addresses_[buffer] = buffer_address(b_, frame_, buffer);
  }

  llvm::Value* linear_index(const std::vector<int64_t>& strides, int64_t offset) {
    llvm::Value* at = b_.getInt64(offset);
    for (size_t d = 0; d < strides.size(); ++d) {
      if (strides[d] == 0) continue;
      llvm::Value* term = b_.CreateNSWMul(idx_[d], b_.getInt64(strides[d]));
      at = b_.CreateNSWAdd(at, term);
    }
    return at;
  }

  llvm::Value* load(int i) {
    auto hoisted = hoisted_.find(i);
    if (hoisted != hoisted_.end()) return hoisted->second;
    const Access& a = k_.loads[i];
    if (a.iota_dim >= 0) return b_.CreateSIToFP(linear_index(shape_.loads[i], 0), value_type_);
    if (a.mask)
      return emit_dropout_keep(b_, *a.mask, frame_.seed, frame_.step, linear_index(shape_.loads[i], a.offset),
                               value_type_);
    const Buffer& buf = p_.buffers[a.buffer];
    llvm::Value* at = linear_index(shape_.loads[i], a.offset);
    llvm::Value* inside = bounded_load_ == i ? nullptr : guards_hold(i);
    if (!inside)
      return load_as_float(b_, buf.dtype, addresses_.at(a.buffer), at, group_, value_type_);
    // Outside its guards the index may leave the buffer: read element 0
    // there (branch-free, so the loop still vectorizes) and yield the pad.
    at = b_.CreateSelect(inside, at, b_.getInt64(0));
    llvm::Value* v = load_as_float(b_, buf.dtype, addresses_.at(a.buffer), at, group_, value_type_);
    return b_.CreateSelect(inside, v, llvm::ConstantFP::get(value_type_, a.pad));
  }

  /// True (an i1) where every guard of load `i` holds; nullptr when the load
  /// has no guard that can fail over the loop's box.
  llvm::Value* guards_hold(int i) {
    const Access& a = k_.loads[i];
    llvm::Value* all = nullptr;
    for (size_t g = 0; g < a.guards.size(); ++g) {
      const std::vector<int64_t>& coefs = shape_.guards[i][g];
      if (!guard_can_fail(a.guards[g], coefs, shape_.dims)) continue;
      llvm::Value* c = linear_index(coefs, a.guards[g].offset);
      // One unsigned compare tests 0 <= c < extent.
      llvm::Value* ok = b_.CreateICmpULT(c, b_.getInt64(a.guards[g].extent));
      all = all ? b_.CreateAnd(all, ok) : ok;
    }
    return all;
  }

  /// Operands for expressions reading `used`; only those are loaded (a load
  /// the expression ignores might not be in bounds at this index).
  /// `accs` are the final values of the accumulators computed so far.
  std::vector<llvm::Value*> operands(const std::set<int>& used, const std::vector<llvm::Value*>& accs) {
    std::vector<llvm::Value*> ops(k_.loads.size(), nullptr);
    for (int i : used)
      if (i < static_cast<int>(k_.loads.size())) ops[i] = load(i);
    ops.insert(ops.end(), accs.begin(), accs.end());
    return ops;
  }

  /// The stores whose per_element flag is `per_element`.
  void emit_stores(const std::vector<llvm::Value*>& accs, bool per_element = false) {
    std::set<int> used;
    for (const auto& s : k_.stores)
      if (s.per_element == per_element) args_of(s.value, &used);
    std::vector<llvm::Value*> ops = operands(used, accs);
    // Every load of the iteration happens before its first store, as the
    // kernel IR requires for in-place updates.
    std::vector<std::pair<size_t, llvm::Value*>> values;
    for (size_t i = 0; i < k_.stores.size(); ++i)
      if (k_.stores[i].per_element == per_element) values.emplace_back(i, emit_scalar(b_, k_.stores[i].value, ops));
    for (const auto& [i, v] : values) {
      const Access& at = k_.stores[i].at;
      store_from_float(b_, p_.buffers[at.buffer].dtype, addresses_.at(at.buffer),
                       linear_index(shape_.stores[i], at.offset), v, group_);
    }
  }

  /// Loads that stay put along canonical dim `d` and read a buffer nobody
  /// stores to, evaluated once before the loop over `d`.
  void hoist_invariant_loads(size_t d) {
    for (size_t i = 0; i < k_.loads.size(); ++i) {
      const Access& a = k_.loads[i];
      bool moves = shape_.loads[i][d] != 0;
      for (const auto& g : shape_.guards[i]) moves |= g[d] != 0;
      if (moves || (a.reads_memory() && stored_.count(a.buffer))) continue;
      bool ready = true;  // every dim it moves along already has an index
      for (size_t e = 0; e < shape_.dims.size(); ++e) {
        bool uses = shape_.loads[i][e] != 0;
        for (const auto& g : shape_.guards[i]) uses |= g[e] != 0;
        ready &= !uses || idx_[e] != nullptr;
      }
      if (ready) hoisted_[static_cast<int>(i)] = load(static_cast<int>(i));
    }
  }

  // --- loop nests ------------------------------------------------------------

  /// Runs `inner` inside loops over dims [from, to); dim 0, when it is an
  /// output dim, loops over [begin, end) (the thread pool's range).
  void nest(size_t from, size_t to, const std::function<void()>& inner) {
    if (from == to) return inner();
    bool pool_range = from == 0 && shape_.outer_dims() > 0;
    llvm::Value* lo = pool_range ? frame_.begin : b_.getInt64(0);
    llvm::Value* hi = pool_range ? frame_.end : b_.getInt64(shape_.dims[from]);
    CountedLoop loop(b_, lo, hi, ("d" + std::to_string(from)).c_str());
    idx_[from] = loop.index();
    nest(from + 1, to, inner);
    idx_[from] = nullptr;
    loop.finish();
  }

  /// A kernel with no outer dim still honours [begin, end) (always [0, 1)).
  void outer_nest(size_t outer, const std::function<void()>& inner) {
    if (outer > 0) return nest(0, outer, inner);
    CountedLoop once(b_, frame_.begin, frame_.end, "once");
    inner();
    once.finish();
  }

  void emit_elementwise() {
    size_t rank = shape_.dims.size();
    // An empty iteration space touches nothing; hoisted loads must not run.
    for (int64_t d : shape_.dims)
      if (d == 0) return;
    if (rank == 0) return outer_nest(0, [&] { emit_stores({}); });
    // The innermost loop is built here rather than by nest(), to hoist
    // broadcast loads above it and mark it parallel. A short innermost dim
    // is unrolled inside it instead of being its own loop.
    const bool unroll = unroll_innermost();
    const size_t inner = unroll ? rank - 2 : rank - 1;  // the loop
    nest(0, inner, [&] {
      hoist_invariant_loads(inner);
      llvm::Value* lo = inner == 0 ? frame_.begin : b_.getInt64(0);
      llvm::Value* hi = inner == 0 ? frame_.end : b_.getInt64(shape_.dims[inner]);
      CountedLoop loop(b_, lo, hi, "inner");
      idx_[inner] = loop.index();
      group_ = new_access_group(m_.getContext());
      if (!unroll) {
        emit_stores({});
      } else {
        hoist_invariant_loads(rank - 1);  // loaded once per iteration, shared by its copies
        for (int64_t t = 0; t < shape_.dims[rank - 1]; ++t) {
          idx_[rank - 1] = b_.getInt64(t);
          emit_stores({});
        }
        idx_[rank - 1] = nullptr;
      }
      loop.finish(group_);
      group_ = nullptr;
      idx_[inner] = nullptr;
      hoisted_.clear();
    });
  }

  /// Whether an element-wise kernel's innermost dim is unrolled into the
  /// loop around it: short enough (kMaxUnrolledInner), around it a loop of
  /// kMinUnrolledInto or more, and the copies small.
  bool unroll_innermost() const {
    const size_t rank = shape_.dims.size();
    if (rank < 2 || shape_.dims[rank - 1] > kMaxUnrolledInner || shape_.dims[rank - 2] < kMinUnrolledInto) return false;
    std::vector<const ScalarNode*> copied;
    for (const auto& st : k_.stores) copied.push_back(st.value.get());
    return shape_.dims[rank - 1] * static_cast<int64_t>(scalar_post_order(copied).size()) <= kMaxUnrolledNodes;
  }

  llvm::Type* acc_type(ReduceOp op) { return op == ReduceOp::sum ? b_.getDoubleTy() : value_type_; }

  llvm::Value* acc_init(ReduceOp op) { return llvm::ConstantFP::get(acc_type(op), reduce_init(op)); }

  /// acc ⊕ body at the current index. Sums accumulate in double; `reorder`
  /// lets LLVM split a sum into vector lanes (a fixed order all the same).
  llvm::Value* combine(ReduceOp op, llvm::Value* acc, llvm::Value* v, bool reorder) {
    if (op == ReduceOp::sum) {
      llvm::IRBuilderBase::FastMathFlagGuard guard(b_);
      llvm::FastMathFlags fmf;
      fmf.setAllowReassoc(reorder);
      b_.setFastMathFlags(fmf);
      return b_.CreateFAdd(acc, b_.CreateFPExt(v, b_.getDoubleTy()));
    }
    llvm::Value* better = op == ReduceOp::max ? b_.CreateFCmpOGT(v, acc) : b_.CreateFCmpOLT(v, acc);
    llvm::Value* picked = b_.CreateSelect(better, v, acc);
    return b_.CreateSelect(b_.CreateFCmpUNO(acc, v), llvm::ConstantFP::getNaN(acc->getType()), picked);
  }

  llvm::Value* body_value(size_t j, const std::vector<llvm::Value*>& accs) {
    std::set<int> used;
    args_of(k_.reductions[j].body, &used);
    return emit_scalar(b_, k_.reductions[j].body, operands(used, accs));
  }

  llvm::Value* acc_as_float(llvm::Value* acc) {
    return b_.CreateFPTrunc(acc, value_type_);  // no-op when both are double
  }

  void zero_reduced_indices() {
    for (size_t d = shape_.outer_dims(); d < shape_.dims.size(); ++d) idx_[d] = b_.getInt64(0);
  }
  void clear_reduced_indices() {
    for (size_t d = shape_.outer_dims(); d < shape_.dims.size(); ++d) idx_[d] = nullptr;
  }

  llvm::AllocaInst* entry_alloca(llvm::Type* t, int64_t count, const char* name) {
    llvm::IRBuilder<> eb(entry_, entry_->begin());
    return eb.CreateAlloca(t, eb.getInt64(count), name);
  }

  /// Per outer index: each accumulator in turn over the reduced loops,
  /// then the row stores, then the per-element stores over the reduced loops.
  void emit_inner_reduction() {
    size_t outer = shape_.outer_dims(), rank = shape_.dims.size();
    if (auto taps = reduced_taps(); !taps.empty()) return emit_unrolled_reduction(taps);
    std::vector<llvm::AllocaInst*> slots;
    for (const auto& r : k_.reductions) slots.push_back(entry_alloca(acc_type(r.op), 1, "acc"));
    outer_nest(outer, [&] {
      std::vector<llvm::Value*> accs;
      for (size_t j = 0; j < k_.reductions.size(); ++j) {
        ReduceOp op = k_.reductions[j].op;
        b_.CreateStore(acc_init(op), slots[j]);
        nest(outer, rank, [&] {
          llvm::Value* v = body_value(j, accs);
          b_.CreateStore(combine(op, b_.CreateLoad(acc_type(op), slots[j]), v, /*reorder=*/true), slots[j]);
        });
        hoisted_.clear();  // loads made inside the loop are not available after it
        accs.push_back(acc_as_float(b_.CreateLoad(acc_type(op), slots[j])));
      }
      zero_reduced_indices();
      emit_stores(accs);
      clear_reduced_indices();
      if (k_.has_per_element_stores()) nest(outer, rank, [&] { emit_stores(accs, /*per_element=*/true); });
    });
  }

  /// The reduced indices of a row, in the loop's order, when the row has at
  /// most kMaxUnrolledReduction elements and there is an outer dim; else none.
  std::vector<std::vector<int64_t>> reduced_taps() const {
    const size_t outer = shape_.outer_dims(), rank = shape_.dims.size();
    int64_t count = 1;
    for (size_t d = outer; d < rank; ++d) count *= shape_.dims[d];
    if (outer == 0 || count == 0 || count > kMaxUnrolledReduction) return {};
    std::vector<const ScalarNode*> copied;
    for (const auto& r : k_.reductions) copied.push_back(r.body.get());
    for (const auto& st : k_.stores)
      if (st.per_element) copied.push_back(st.value.get());
    if (count * static_cast<int64_t>(scalar_post_order(copied).size()) > kMaxUnrolledNodes) return {};
    std::vector<std::vector<int64_t>> taps;
    std::vector<int64_t> tap(rank - outer, 0);
    for (int64_t t = 0; t < count; ++t) {
      taps.push_back(tap);
      for (size_t d = tap.size(); d-- > 0;) {  // the next index, the last dim fastest
        if (++tap[d] < shape_.dims[outer + d]) break;
        tap[d] = 0;
      }
    }
    return taps;
  }

  void set_reduced_indices(const std::vector<int64_t>& tap) {
    for (size_t d = 0; d < tap.size(); ++d) idx_[shape_.outer_dims() + d] = b_.getInt64(tap[d]);
  }

  /// emit_inner_reduction for short rows: per output, each accumulator over
  /// the row's taps as straight-line code (combined in the loop's order, so
  /// every output sums in a fixed order), then the row stores and the
  /// per-element stores. Each iteration of the innermost outer loop touches
  /// only its own row, so that loop is marked parallel for the vectorizer.
  void emit_unrolled_reduction(const std::vector<std::vector<int64_t>>& taps) {
    unrolled_rows_ = true;
    const size_t outer = shape_.outer_dims();
    nest(0, outer - 1, [&] {
      llvm::Value* lo = outer == 1 ? frame_.begin : b_.getInt64(0);
      llvm::Value* hi = outer == 1 ? frame_.end : b_.getInt64(shape_.dims[outer - 1]);
      CountedLoop row(b_, lo, hi, "row");
      idx_[outer - 1] = row.index();
      group_ = new_access_group(m_.getContext());
      std::vector<llvm::Value*> accs;
      for (size_t j = 0; j < k_.reductions.size(); ++j) {
        const ReduceOp op = k_.reductions[j].op;
        llvm::Value* acc = acc_init(op);
        for (const auto& tap : taps) {
          set_reduced_indices(tap);
          acc = combine(op, acc, body_value(j, accs), /*reorder=*/false);
        }
        accs.push_back(acc_as_float(acc));
      }
      zero_reduced_indices();
      emit_stores(accs);
      if (k_.has_per_element_stores())
        for (const auto& tap : taps) {
          set_reduced_indices(tap);
          emit_stores(accs, /*per_element=*/true);
        }
      clear_reduced_indices();
      row.finish(group_);
      group_ = nullptr;
      idx_[outer - 1] = nullptr;
    });
  }

  /// The load a column reduction's body is, when that body is one guarded
  /// load whose pad is the reduction's identity and whose failing guards
  /// move along column dim `col` by 0 or +1 per column (as every window
  /// loop's do); else -1. Such a load (a window's taps: col2im, pooling)
  /// can run over the columns where its guards hold instead of selecting
  /// the pad per column.
  int bounded_window_load(size_t col) const {
    const Reduction& r = k_.reductions[0];
    if (r.body->op != ScalarOp::arg || r.body->index >= static_cast<int>(k_.loads.size())) return -1;
    const int i = r.body->index;
    const Access& a = k_.loads[i];
    if (!a.reads_memory() || a.guards.empty() || a.pad != reduce_init(r.op)) return -1;
    bool moves = false;
    for (size_t g = 0; g < a.guards.size(); ++g) {
      const std::vector<int64_t>& coefs = shape_.guards[i][g];
      if (!guard_can_fail(a.guards[g], coefs, shape_.dims)) continue;
      if (coefs[col] != 0 && coefs[col] != 1) return -1;
      moves |= coefs[col] != 0;
    }
    return moves ? i : -1;
  }

  /// [from, to) within a block of `width` columns from `start` where every
  /// guard of load `i` holds (empty when a guard that does not move along
  /// the columns fails), at the current indices of the other dims.
  std::pair<llvm::Value*, llvm::Value*> guarded_columns(int i, size_t col, llvm::Value* start, llvm::Value* width) {
    const Access& a = k_.loads[i];
    llvm::Value* from = b_.getInt64(0);
    llvm::Value* to = width;
    llvm::Value* holds = nullptr;
    idx_[col] = start;  // each guard's coordinate at the block's first column
    for (size_t g = 0; g < a.guards.size(); ++g) {
      const std::vector<int64_t>& coefs = shape_.guards[i][g];
      if (!guard_can_fail(a.guards[g], coefs, shape_.dims)) continue;
      llvm::Value* at = linear_index(coefs, a.guards[g].offset);
      llvm::Value* extent = b_.getInt64(a.guards[g].extent);
      if (coefs[col] == 0) {
        llvm::Value* ok = b_.CreateICmpULT(at, extent);
        holds = holds ? b_.CreateAnd(holds, ok) : ok;
        continue;
      }
      // at + j in [0, extent): j in [-at, extent - at).
      from = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, from, b_.CreateNeg(at));
      to = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, to, b_.CreateSub(extent, at));
    }
    idx_[col] = nullptr;
    if (holds) to = b_.CreateSelect(holds, to, from);
    return {from, to};
  }

  // One accumulator per output of a block of the innermost output dim; the
  // loop over that block is innermost, unit-stride and parallel.
  void emit_column_reduction() {
    size_t outer = shape_.outer_dims(), rank = shape_.dims.size(), col = outer - 1;
    const ReduceOp op = k_.reductions[0].op;  // canonical_shape picks column order for one accumulator only
    llvm::AllocaInst* accs = entry_alloca(acc_type(op), kColumnBlock, "accs");
    nest(0, col, [&] {
      llvm::Value* lo = col == 0 ? frame_.begin : b_.getInt64(0);
      llvm::Value* hi = col == 0 ? frame_.end : b_.getInt64(shape_.dims[col]);
      llvm::Value* blocks = b_.CreateSDiv(b_.CreateAdd(b_.CreateSub(hi, lo), b_.getInt64(kColumnBlock - 1)),
                                          b_.getInt64(kColumnBlock));
      CountedLoop block(b_, b_.getInt64(0), blocks, "block");
      llvm::Value* start = b_.CreateNSWAdd(lo, b_.CreateNSWMul(block.index(), b_.getInt64(kColumnBlock)));
      llvm::Value* width = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, b_.getInt64(kColumnBlock),
                                                    b_.CreateSub(hi, start));
      // Runs body(accumulator slot) for the block's columns [from, to) (all by default).
      auto over_block = [&](const std::function<void(llvm::Value* slot)>& body, llvm::Value* from = nullptr,
                            llvm::Value* to = nullptr) {
        CountedLoop j(b_, from ? from : b_.getInt64(0), to ? to : width, "col");
        idx_[col] = b_.CreateNSWAdd(start, j.index());
        group_ = new_access_group(m_.getContext());
        body(b_.CreateInBoundsGEP(acc_type(op), accs, j.index()));
        j.finish(group_);
        group_ = nullptr;
        idx_[col] = nullptr;
      };
      auto tagged = [&](llvm::Instruction* inst) {
        inst->setMetadata(llvm::LLVMContext::MD_access_group, group_);
        return inst;
      };
      over_block([&](llvm::Value* slot) { tagged(b_.CreateStore(acc_init(op), slot)); });
      const int bounded = bounded_window_load(col);
      nest(outer, rank, [&] {
        auto accumulate = [&](llvm::Value* slot) {
          llvm::Value* v = body_value(0, {});
          llvm::Value* acc = tagged(b_.CreateLoad(acc_type(op), slot));
          tagged(b_.CreateStore(combine(op, acc, v, /*reorder=*/false), slot));
        };
        if (bounded < 0) return over_block(accumulate);
        // The load's guards become the column loop's bounds: the columns
        // outside would add the reduction's identity, so skipping them
        // changes no bit, and the loop inside reads one contiguous run
        // with no per-lane select (which LLVM would turn into a gather).
        auto [from, to] = guarded_columns(bounded, col, start, width);
        bounded_load_ = bounded;
        over_block(accumulate, from, to);
        bounded_load_ = -1;
      });
      over_block([&](llvm::Value* slot) {
        zero_reduced_indices();
        emit_stores({acc_as_float(tagged(b_.CreateLoad(acc_type(op), slot)))});
        clear_reduced_indices();
      });
      block.finish();
    });
  }

  llvm::Module& m_;
  const Program& p_;
  const LoopKernel& k_;
  llvm::IRBuilder<> b_;
  LoopShape shape_;
  KernelFrame frame_;
  llvm::BasicBlock* entry_ = nullptr;
  std::map<int, llvm::Value*> addresses_;
  std::set<int> stored_;
  std::vector<llvm::Value*> idx_;
  std::map<int, llvm::Value*> hoisted_;
  llvm::MDNode* group_ = nullptr;
  bool unrolled_rows_ = false;  // unrolled_rows()
  int bounded_load_ = -1;  // a load whose guards the loop bounds enforce (see guarded_columns)
  llvm::Type* value_type_ = nullptr;  // float, or double (see the constructor)
};

}  // namespace

bool emit_loop_kernel(llvm::Module& m, const Program& p, const LoopKernel& k, const std::string& name) {
  LoopEmitter e(m, p, k, name);
  e.emit();
  return e.unrolled_rows();
}

}  // namespace dlc::cpu
