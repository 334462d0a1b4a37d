#include "compiler/codegen/cuda/cuda_loop_kernel.h"

#include <set>

#include "compiler/codegen/cpu/loop_shape.h"
#include "compiler/codegen/cuda/cuda_kernel_frame.h"
#include "compiler/codegen/cuda/cuda_scalar.h"
#include "compiler/codegen/cuda/cuda_text.h"

namespace dlc::cuda {
namespace {

class LoopEmitter {
 public:
  LoopEmitter(std::string* out, const Program& p, const LoopKernel& k)
      : out_(out), p_(p), k_(k), shape_(cpu::canonical_shape(k)) {
    // Float holds integers exactly only up to 2^24: a kernel that touches an
    // integer or f64 buffer computes in double (as the cpu target).
    for (const auto& l : k_.loads)
      if (l.iota_dim < 0 && needs_double(p_.buffers[l.buffer].dtype)) t_ = ComputeType::f64;
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
    if (k_.reduce == ReduceOp::none) return emit_stores(idx, "");
    emit_reduction(idx);
  }

 private:
  void line(const std::string& s) { *out_ += indent_ + s + "\n"; }

  /// Pointers to the buffers the kernel touches (loads no expression reads are never made).
  void declare_buffers() {
    std::set<int> read;
    for (const auto& s : k_.stores)
      for (int a : args_of(s.value)) read.insert(a);
    if (k_.reduce != ReduceOp::none)
      for (int a : args_of(k_.reduce_body)) read.insert(a);
    std::set<int> used;
    for (int i : read)
      if (i < static_cast<int>(k_.loads.size()) && k_.loads[i].iota_dim < 0) used.insert(k_.loads[i].buffer);
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
      else
        value = load_text(p_.buffers[a.buffer].dtype, buffer_name(a.buffer), index_text(a.offset, shape_.loads[i], idx), t_);
      line("const " + std::string(c_type(t_)) + " " + name + " = " + value + ";");
      names[i] = name;
    }
    return names;
  }

  /// Every load before the first store, as the kernel IR requires for
  /// in-place updates; `reduced` names the accumulator's value (reductions).
  void emit_stores(const std::vector<std::string>& idx, const std::string& reduced) {
    std::set<int> used;
    for (const auto& s : k_.stores)
      for (int a : args_of(s.value)) used.insert(a);
    std::vector<std::string> args = load_operands(used, idx);
    if (!reduced.empty()) args.push_back(reduced);
    ScalarPrinter printer(out_, indent_, t_, args, &counter_);
    std::vector<std::string> values;
    for (const auto& s : k_.stores) values.push_back(printer.print(s.value));
    for (size_t i = 0; i < k_.stores.size(); ++i) {
      const Access& at = k_.stores[i].at;
      line(store_text(p_.buffers[at.buffer].dtype, buffer_name(at.buffer),
                      index_text(at.offset, shape_.stores[i], idx), values[i]));
    }
  }

  /// The item reduces its inner dims in row-major order; sums accumulate in
  /// double, max propagates NaN.
  void emit_reduction(std::vector<std::string> idx) {
    bool sum = k_.reduce == ReduceOp::sum;
    std::string acc_type = sum ? "double" : c_type(t_);
    line(acc_type + " acc = " + literal(reduce_init(k_.reduce), sum ? ComputeType::f64 : t_) + ";");
    size_t outer = idx.size(), rank = shape_.dims.size();
    std::string saved = indent_;
    for (size_t d = outer; d < rank; ++d) {
      std::string r = "r" + std::to_string(d - outer);
      line("for (long long " + r + " = 0; " + r + " < " + std::to_string(shape_.dims[d]) + "LL; ++" + r + ") {");
      indent_ += "  ";
      idx.push_back(r);
    }
    std::set<int> used;
    for (int a : args_of(k_.reduce_body)) used.insert(a);
    ScalarPrinter body(out_, indent_, t_, load_operands(used, idx), &counter_);
    std::string v = body.print(k_.reduce_body);
    line(sum ? "acc += (double)" + v + ";" : "acc = dlc_max(" + v + ", acc);");
    for (size_t d = outer; d < rank; ++d) {
      indent_.resize(indent_.size() - 2);
      line("}");
    }
    indent_ = saved;
    // The stores read their loads at reduced index 0 (stride 0 there).
    for (size_t d = outer; d < rank; ++d) idx[d] = "0LL";
    line("const " + std::string(c_type(t_)) + " reduced = (" + c_type(t_) + ")acc;");
    emit_stores(idx, "reduced");
  }

  std::string* out_;
  const Program& p_;
  const LoopKernel& k_;
  cpu::LoopShape shape_;
  ComputeType t_ = ComputeType::f32;
  std::string indent_ = "  ";
  int counter_ = 0;
};

}  // namespace

void emit_loop_kernel(std::string* out, const Program& p, const LoopKernel& k, const std::string& symbol) {
  *out += item_function_begin(symbol);
  LoopEmitter(out, p, k).emit_item_body();
  *out += "}\n";
  *out += grid_stride_kernel(symbol);
}

}  // namespace dlc::cuda
