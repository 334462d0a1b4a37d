#include "compiler/codegen/cuda/cuda_row_kernel.h"

#include <cmath>

#include "compiler/codegen/cuda/cuda_kernel_frame.h"
#include "compiler/codegen/cuda/cuda_text.h"
#include "runtime/cuda/cuda_abi.h"

namespace dlc::cuda {
namespace {

class RowEmitter {
 public:
  RowEmitter(std::string* out, const Program& p, const RowKernel& r) : out_(out), p_(p), r_(r) {}

  void emit_item_body() {
    declare(r_.x);
    if (r_.op != RowOp::softmax_xent) declare(r_.out);  // softmax_xent's finish writes it
    if (r_.labels >= 0) declare(r_.labels);
    if (r_.scale >= 0) declare(r_.scale);
    if (r_.scratch >= 0) declare(r_.scratch);
    std::string cols = std::to_string(r_.cols) + "LL";
    line("const long long row = t * " + cols + ";");
    line("// Row max, NaN-propagating: a NaN row stays NaN.");
    line("float mx = " + literal(-INFINITY, ComputeType::f32) + ";");
    line("for (long long c = 0; c < " + cols + "; ++c) mx = dlc_max(" + x_at("row + c") + ", mx);");
    line("double total = 0.0;");
    line("for (long long c = 0; c < " + cols + "; ++c) total += (double)expf(" + x_at("row + c") + " - mx);");
    line("const float sum = (float)total;");
    switch (r_.op) {
      case RowOp::softmax:
        line("for (long long c = 0; c < " + cols + "; ++c) " + store_out("row + c", "expf(" + x_at("row + c") + " - mx) / sum"));
        break;
      case RowOp::log_softmax:
        line("const float log_sum = logf(sum);");
        line("for (long long c = 0; c < " + cols + "; ++c) " + store_out("row + c", "(" + x_at("row + c") + " - mx) - log_sum"));
        break;
      case RowOp::softmax_xent:
        line("// loss = logsumexp(row) - row[label]; NaN for a label outside the row.");
        emit_label();
        line("const bool valid = label >= 0 && label < " + cols + ";");
        line("const float loss = valid ? (mx + logf(sum)) - " + x_at("row + (valid ? label : 0LL)") + " : " +
             literal(NAN, ComputeType::f32) + ";");
        line(store_text(dtype(r_.scratch), buffer_name(r_.scratch), "t", "loss"));
        break;
      case RowOp::softmax_xent_grad:
        line("// A label outside the row matches no column (a zero one-hot row).");
        emit_label();
        line("const float scale = " + load_text(dtype(r_.scale), buffer_name(r_.scale), "0", ComputeType::f32) + ";");
        line("for (long long c = 0; c < " + cols + "; ++c) {");
        line("  const float p = expf(" + x_at("row + c") + " - mx) / sum;");
        line("  " + store_out("row + c", "(p - (c == label ? 1.0f : 0.0f)) * scale"));
        line("}");
        break;
    }
  }

  /// out[0] = the sum of the per-row losses, in row order, over rows.
  void emit_finish_body() {
    declare(r_.scratch);
    declare(r_.out);
    line("(void)t;  // the only item");
    line("double total = 0.0;");
    line("for (long long r = 0; r < " + std::to_string(r_.rows) + "LL; ++r) total += (double)" +
         load_text(dtype(r_.scratch), buffer_name(r_.scratch), "r", ComputeType::f32) + ";");
    line("const float mean = (float)(total / " + literal(static_cast<double>(r_.rows), ComputeType::f64) + ");");
    line(store_text(dtype(r_.out), buffer_name(r_.out), "0", "mean"));
  }

 private:
  void line(const std::string& s) { *out_ += "  " + s + "\n"; }
  DType dtype(int buffer) const { return p_.buffers[buffer].dtype; }
  void declare(int b) {
    line(buffer_pointer(b, dtype(b)) + "  // " + p_.buffers[b].name + " (" + buffer_kind_name(p_.buffers[b].kind) + ")");
  }
  std::string x_at(const std::string& index) {
    return load_text(dtype(r_.x), buffer_name(r_.x), index, ComputeType::f32);
  }
  std::string store_out(const std::string& index, const std::string& value) {
    return store_text(dtype(r_.out), buffer_name(r_.out), index, value);
  }
  /// The row's label as long long: integer labels as they are, float labels
  /// truncated (NaN -> 0), as the cpu target reads them.
  void emit_label() {
    DType t = dtype(r_.labels);
    std::string lb = buffer_name(r_.labels);
    if (t == DType::i32 || t == DType::i64) line("const long long label = (long long)" + lb + "[t];");
    else line("const long long label = dlc_to_i64(" + load_text(t, lb, "t", ComputeType::f32) + ");");
  }

  std::string* out_;
  const Program& p_;
  const RowKernel& r_;
};

}  // namespace

void emit_row_kernel(std::string* out, const Program& p, const RowKernel& r, const std::string& symbol) {
  *out += item_function_begin(symbol);
  RowEmitter(out, p, r).emit_item_body();
  *out += "}\n" + grid_stride_kernel(symbol);
  if (r.op != RowOp::softmax_xent) return;
  std::string finish = cuda_abi::finish_symbol(symbol);
  *out += "// " + finish + ": the mean over rows of the per-row losses (run with 1 item).\n";
  *out += item_function_begin(finish);
  RowEmitter(out, p, r).emit_finish_body();
  *out += "}\n" + grid_stride_kernel(finish);
}

}  // namespace dlc::cuda
