#include "compiler/codegen/cuda/cuda_loop_kernel.h"

#include <set>

#include "compiler/codegen/cpu/loop_shape.h"
#include "compiler/codegen/cuda/cuda_kernel_frame.h"
#include "compiler/codegen/cuda/cuda_scalar.h"
#include "compiler/codegen/cuda/cuda_text.h"
#include "kernel/cuda_abi.h"

namespace dlc::cuda {
namespace {

class LoopEmitter {
 public:
  LoopEmitter(std::string* out, const Program& p, const LoopKernel& k)
      : out_(out), p_(p), k_(k), shape_(cpu::canonical_shape(k)), lanes_(cuda_abi::lanes_per_item(k) > 1) {
    // Float holds integers exactly only up to 2^24: a kernel that touches an
    // integer or f64 buffer computes in double (as the cpu target).
    for (const auto& l : k_.loads)
      if (l.reads_memory() && needs_double(p_.buffers[l.buffer].dtype)) t_ = ComputeType::f64;
    for (const auto& s : k_.stores)
      if (needs_double(p_.buffers[s.at.buffer].dtype)) t_ = ComputeType::f64;
  }

  void emit_item_body() {
    declare_buffers();
    int outer = shape_.outer_dims();
    // The item's outer index, row-major over the outer dims (cuda_abi::loop_items).
    std::vector<std::string> idx;
    for (int d = 0; d < outer; ++d) idx.push_back("i" + std::to_string(d));
    if (k_.outer_numel() == 0) return line("// no items");
    if (outer == 0) line("(void)t;  // the only item");
    if (outer == 1) line("const long long i0 = t;");
    if (outer > 1) {
      line("long long rest = t;");
      for (int d = outer - 1; d > 0; --d) {
        std::string n = std::to_string(shape_.dims[d]) + "LL";
        line("const long long i" + std::to_string(d) + " = rest % " + n + ";");
        line("rest /= " + n + ";");
      }
      line("const long long i0 = rest;");
    }
    if (!k_.reduces()) return emit_stores(idx, {}, false);
    emit_reductions(idx);
  }

 private:
  void line(const std::string& s) { *out_ += indent_ + s + "\n"; }

  /// Pointers to the buffers the kernel touches (loads no expression reads are never made).
  void declare_buffers() {
    std::set<int> read;
    for (const auto& s : k_.stores)
      for (int a : args_of(s.value)) read.insert(a);
    for (const auto& r : k_.reductions)
      for (int a : args_of(r.body)) read.insert(a);
    std::set<int> used;
    for (int i : read)
      if (i < static_cast<int>(k_.loads.size()) && k_.loads[i].reads_memory()) used.insert(k_.loads[i].buffer);
    for (const auto& s : k_.stores) used.insert(s.at.buffer);
    for (int b : used) line(buffer_pointer(b, p_.buffers[b].dtype) + "  // " + p_.buffers[b].name + " (" +
                            buffer_kind_name(p_.buffers[b].kind) + ")");
  }

  /// Declares `const T aI = ...;` for each load in `used` at index `idx`;
  /// returns the operand names (empty for loads not used: a load the
  /// expressions ignore might not be in bounds at this index).
  std::vector<std::string> load_operands(const std::set<int>& used, const std::vector<std::string>& idx) {
    std::vector<std::string> names(k_.loads.size());
    for (int i : used) {
      if (i >= static_cast<int>(k_.loads.size())) continue;
      const Access& a = k_.loads[i];
      std::string name = "a" + std::to_string(i), value;
      if (a.iota_dim >= 0)
        value = "(" + std::string(c_type(t_)) + ")(" + index_text(0, shape_.loads[i], idx) + ")";
      else if (a.mask)
        value = dropout_keep_text(*a.mask, index_text(a.offset, shape_.loads[i], idx), t_);
      else
        value = guarded(i, idx, load_text(p_.buffers[a.buffer].dtype, buffer_name(a.buffer),
                                          index_text(a.offset, shape_.loads[i], idx), t_));
      line("const " + std::string(c_type(t_)) + " " + name + " = " + value + ";");
      names[i] = name;
    }
    return names;
  }

  /// `value` where every guard of load `i` holds at `idx`, else its pad
  /// (the conditional reads no memory on the other side).
  std::string guarded(int i, const std::vector<std::string>& idx, const std::string& value) const {
    const Access& a = k_.loads[i];
    std::string cond;
    for (size_t g = 0; g < a.guards.size(); ++g) {
      const std::vector<int64_t>& coefs = shape_.guards[i][g];
      if (!cpu::guard_can_fail(a.guards[g], coefs, shape_.dims)) continue;
      // One unsigned compare tests 0 <= c < extent.
      cond += (cond.empty() ? "" : " && ") + std::string("(unsigned long long)(") +
              index_text(a.guards[g].offset, coefs, idx) + ") < " + std::to_string(a.guards[g].extent) + "ULL";
    }
    if (cond.empty()) return value;
    return "(" + cond + ") ? " + value + " : " + literal(a.pad, t_);
  }

  /// Every load before the first store, as the kernel IR requires for
  /// in-place updates; `accs` name the accumulators' values (reductions).
  /// Stores whose per_element flag is `per_element` only.
  void emit_stores(const std::vector<std::string>& idx, const std::vector<std::string>& accs, bool per_element) {
    std::set<int> used;
    for (const auto& s : k_.stores)
      if (s.per_element == per_element)
        for (int a : args_of(s.value)) used.insert(a);
    std::vector<std::string> args = load_operands(used, idx);
    args.insert(args.end(), accs.begin(), accs.end());
    ScalarPrinter printer(out_, indent_, t_, args, &counter_);
    std::vector<std::pair<size_t, std::string>> values;
    for (size_t i = 0; i < k_.stores.size(); ++i)
      if (k_.stores[i].per_element == per_element) values.emplace_back(i, printer.print(k_.stores[i].value));
    for (const auto& [i, v] : values) {
      const Access& at = k_.stores[i].at;
      line(store_text(p_.buffers[at.buffer].dtype, buffer_name(at.buffer),
                      index_text(at.offset, shape_.stores[i], idx), v));
    }
  }

  /// Opens loops over the reduced dims (row-major), extending `idx`. With
  /// lanes, one loop over the flattened reduced dims, each lane taking every
  /// DLC_LANES-th element from its own: the indices are unflattened from it.
  void open_reduced_loops(std::vector<std::string>* idx) {
    size_t outer = static_cast<size_t>(shape_.outer_dims()), rank = shape_.dims.size();
    if (lanes_) {
      int64_t inner = 1;
      for (size_t d = outer; d < rank; ++d) inner *= shape_.dims[d];
      line("for (long long f = lane; f < " + std::to_string(inner) + "LL; f += DLC_LANES) {");
      indent_ += "  ";
      if (rank - outer > 1) line("long long rest = f;");
      for (size_t d = rank - 1; d > outer; --d) {
        std::string n = std::to_string(shape_.dims[d]) + "LL";
        line("const long long r" + std::to_string(d - outer) + " = rest % " + n + ";");
        line("rest /= " + n + ";");
      }
      line(std::string("const long long r0 = ") + (rank - outer > 1 ? "rest;" : "f;"));
      for (size_t d = outer; d < rank; ++d) idx->push_back("r" + std::to_string(d - outer));
      return;
    }
    for (size_t d = outer; d < rank; ++d) {
      std::string r = "r" + std::to_string(d - outer);
      line("for (long long " + r + " = 0; " + r + " < " + std::to_string(shape_.dims[d]) + "LL; ++" + r + ") {");
      indent_ += "  ";
      idx->push_back(r);
    }
  }
  void close_reduced_loops(std::vector<std::string>* idx) {
    size_t outer = static_cast<size_t>(shape_.outer_dims()), rank = shape_.dims.size();
    for (size_t d = outer; d < (lanes_ ? outer + 1 : rank); ++d) {
      indent_.resize(indent_.size() - 2);
      line("}");
    }
    idx->resize(outer);
  }

  /// The item computes its accumulators one after another, each over the
  /// inner dims in row-major order (sums in double, max/min propagate NaN),
  /// then its row stores, then its per-element stores over the inner dims.
  /// With lanes, each lane accumulates its share and the lanes combine
  /// (dlc_lanes_*: every lane gets lane 0's result); lane 0 alone writes the
  /// row stores (others may still read what they overwrite in place), and
  /// the per-element stores are shared out like the elements.
  void emit_reductions(std::vector<std::string> idx) {
    std::vector<std::string> accs;
    for (size_t j = 0; j < k_.reductions.size(); ++j) {
      const Reduction& r = k_.reductions[j];
      bool sum = r.op == ReduceOp::sum;
      std::string acc = "acc" + std::to_string(j);
      std::string acc_type = sum ? "double" : c_type(t_);
      line(acc_type + " " + acc + " = " + literal(reduce_init(r.op), sum ? ComputeType::f64 : t_) + ";");
      line("{");
      indent_ += "  ";
      open_reduced_loops(&idx);
      std::set<int> used;
      for (int a : args_of(r.body)) used.insert(a);
      std::vector<std::string> args = load_operands(used, idx);
      args.insert(args.end(), accs.begin(), accs.end());
      ScalarPrinter body(out_, indent_, t_, args, &counter_);
      std::string v = body.print(r.body);
      if (sum) line(acc + " += (double)" + v + ";");
      else line(acc + " = " + (r.op == ReduceOp::max ? "dlc_max(" : "dlc_min(") + v + ", " + acc + ");");
      close_reduced_loops(&idx);
      indent_.resize(indent_.size() - 2);
      line("}");
      if (lanes_) line(acc + " = dlc_lanes_" + reduce_op_name(r.op) + "(" + acc + ");");
      std::string value = "reduced" + std::to_string(j);
      line("const " + std::string(c_type(t_)) + " " + value + " = (" + c_type(t_) + ")" + acc + ";");
      accs.push_back(value);
    }
    // Row stores read their loads at reduced index 0 (stride 0 there).
    std::vector<std::string> at_zero = idx;
    for (size_t d = idx.size(); d < shape_.dims.size(); ++d) at_zero.push_back("0LL");
    line(lanes_ ? "if (lane == 0) {" : "{");
    indent_ += "  ";
    emit_stores(at_zero, accs, false);
    indent_.resize(indent_.size() - 2);
    line("}");
    if (!k_.has_per_element_stores()) return;
    // Per-element stores read after the row stores, as on one thread.
    if (lanes_) line("__syncwarp();");
    open_reduced_loops(&idx);
    emit_stores(idx, accs, true);
    close_reduced_loops(&idx);
  }

  std::string* out_;
  const Program& p_;
  const LoopKernel& k_;
  cpu::LoopShape shape_;
  ComputeType t_ = ComputeType::f32;
  std::string indent_ = "  ";
  int counter_ = 0;
  bool lanes_ = false;  // DLC_LANES threads per item (cuda_abi::lanes_per_item)
};

bool draws_masks(const LoopKernel& k) {
  for (const auto& l : k.loads)
    if (l.mask) return true;
  return false;
}

}  // namespace

void emit_loop_kernel(std::string* out, const Program& p, const LoopKernel& k, const std::string& symbol) {
  const bool lanes = cuda_abi::lanes_per_item(k) > 1;
  *out += item_function_begin(symbol, draws_masks(k), lanes);
  LoopEmitter(out, p, k).emit_item_body();
  *out += "}\n";
  *out += grid_stride_kernel(symbol, draws_masks(k), lanes);
}

}  // namespace dlc::cuda
