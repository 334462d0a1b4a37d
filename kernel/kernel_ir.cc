#include "kernel/kernel_ir.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "ir/error.h"
#include "ir/scalar_walk.h"
#include "ir/size_limits.h"

namespace dlc {

int64_t LoopKernel::outer_numel() const {
  int64_t n = 1;
  for (size_t d = 0; d + reduce_dims < dims.size(); ++d) n *= dims[d];
  return n;
}

int64_t LoopKernel::reduce_numel() const {
  int64_t n = 1;
  for (size_t d = dims.size() - reduce_dims; d < dims.size(); ++d) n *= dims[d];
  return n;
}

bool LoopKernel::has_per_element_stores() const {
  for (const auto& s : stores)
    if (s.per_element) return true;
  return false;
}

double reduce_init(ReduceOp op) {
  if (op == ReduceOp::max) return -std::numeric_limits<double>::infinity();
  if (op == ReduceOp::min) return std::numeric_limits<double>::infinity();
  return 0.0;
}

const char* Step::kind_name() const {
  switch (body.index()) {
    case 0: return "loop";
    case 1: return "gemm";
    case 2: return "copy";
    case 3: return "all_reduce";
    default: return "conv";
  }
}

int Program::find_buffer(BufferKind kind, const std::string& name) const {
  for (const auto& b : buffers)
    if (b.kind == kind && b.name == name) return b.id;
  return -1;
}

int Program::kernel_count() const {
  int n = 0;
  for (const auto& s : steps) n += s.loop() || s.gemm() || s.conv() ? 1 : 0;
  return n;
}

bool Program::has_collectives() const {
  for (const auto& s : steps)
    if (s.all_reduce()) return true;
  return false;
}

const char* buffer_kind_name(BufferKind k) {
  switch (k) {
    case BufferKind::input: return "input";
    case BufferKind::output: return "output";
    case BufferKind::state: return "state";
    case BufferKind::temp: return "temp";
    case BufferKind::constant: return "const";
  }
  return "?";
}

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::none: return "none";
    case ReduceOp::sum: return "sum";
    case ReduceOp::max: return "max";
    case ReduceOp::min: return "min";
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Printing

namespace {

std::string ints_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

std::string num_str(double v) {
  std::ostringstream o;
  o.precision(9);
  o << v;
  return o.str();
}

/// Prints a DAG: nodes used twice or more get a let-binding `tN = ...`.
class ExprPrinter {
 public:
  /// Counts uses in every expression of a kernel before any is printed,
  /// so a node shared between two stores is bound where it first appears.
  // Both walks use explicit stacks (expressions may be deep); operands are
  // finished left to right, so lets come out in the order a recursive
  // printer would write them.
  void count(const SExpr& root) {
    std::vector<const ScalarNode*> stack{root.get()};
    while (!stack.empty()) {
      const ScalarNode* n = stack.back();
      stack.pop_back();
      if (uses_[n]++ > 0) continue;
      for (const auto& a : n->args) stack.push_back(a.get());
    }
  }
  std::string print(const SExpr& root, std::string* lets) {
    for (const ScalarNode* n : scalar_post_order(root)) {
      if (text_.count(n)) continue;
      if (n->op == ScalarOp::arg) { text_[n] = "$" + std::to_string(n->index); continue; }
      if (n->op == ScalarOp::constant) { text_[n] = num_str(n->value); continue; }
      std::string s = "(" + std::string(scalar_op_name(n->op));
      for (const auto& a : n->args) s += " " + text_.at(a.get());
      s += ")";
      if (uses_[n] > 1) {
        std::string name = "t" + std::to_string(named_++);
        *lets += "      " + name + " = " + s + "\n";
        s = name;
      }
      text_[n] = std::move(s);
    }
    return text_.at(root.get());
  }

 private:
  std::map<const ScalarNode*, int> uses_;
  std::map<const ScalarNode*, std::string> text_;  // a node's text, or its let's name
  int named_ = 0;
};

/// The rate with every bit of its f32 (it is part of the fingerprint).
std::string rate_str(float rate) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", static_cast<double>(rate));
  return text;
}

std::string access_str(const Program& p, const Access& a) {
  if (a.iota_dim >= 0) return "iota(" + std::to_string(a.iota_dim) + ")";
  if (a.mask) {
    std::string s = "mask(key " + std::to_string(a.mask->key) + ", rate " + rate_str(a.mask->rate) + ")";
    if (a.offset) s += " +" + std::to_string(a.offset);
    return s + " " + ints_str(a.strides);
  }
  std::string s = "b" + std::to_string(a.buffer);
  if (a.buffer >= 0 && a.buffer < static_cast<int>(p.buffers.size())) s += " " + p.buffers[a.buffer].name;
  if (a.offset) s += " +" + std::to_string(a.offset);
  s += " " + ints_str(a.strides);
  if (a.guards.empty()) return s;
  // Every bit of the pad is printed: the text is the fingerprint.
  char pad[40];
  std::snprintf(pad, sizeof pad, "%.17g", a.pad);
  s += " guarded(pad " + std::string(pad);
  for (const auto& g : a.guards)
    s += ", " + std::to_string(g.offset) + "+" + ints_str(g.coefs) + " in [0," + std::to_string(g.extent) + ") x" +
         std::to_string(g.stride);
  return s + ")";
}

void print_loop(std::ostream& o, const Program& p, const LoopKernel& k, const std::string& indent) {
  o << indent << "dims " << ints_str(k.dims);
  if (k.reduces()) o << " reduce over last " << k.reduce_dims;
  o << "\n";
  for (size_t i = 0; i < k.loads.size(); ++i) o << indent << "load $" << i << " = " << access_str(p, k.loads[i]) << "\n";
  ExprPrinter printer;  // one printer per kernel, so shared nodes print once
  for (const auto& r : k.reductions) printer.count(r.body);
  for (const auto& s : k.stores) printer.count(s.value);
  for (size_t j = 0; j < k.reductions.size(); ++j) {
    std::string lets;
    std::string body = printer.print(k.reductions[j].body, &lets);
    o << lets << indent << "acc $" << k.loads.size() + j << " = " << reduce_op_name(k.reductions[j].op) << " " << body
      << "\n";
  }
  for (const auto& s : k.stores) {
    std::string lets;
    std::string v = printer.print(s.value, &lets);
    o << lets << indent << (s.per_element ? "store each " : "store ") << access_str(p, s.at) << " = " << v << "\n";
  }
}

std::string buf(const Program& p, int id) {
  std::string s = "b" + std::to_string(id);
  if (id >= 0 && id < static_cast<int>(p.buffers.size())) s += " " + p.buffers[id].name;
  return s;
}

std::string operand_str(const Program& p, const GemmOperand& x) {
  std::string s = buf(p, x.buffer);
  if (x.offset) s += " +" + std::to_string(x.offset);
  s += " ld " + std::to_string(x.ld);
  if (x.trans) s += " T";
  if (x.batch_stride) s += " bstride " + std::to_string(x.batch_stride);
  return s;
}

std::string conv_operand_str(const Program& p, const ConvOperand& x) {
  return buf(p, x.buffer) + (x.offset ? " +" + std::to_string(x.offset) : "");
}

std::string pair_str(const int64_t v[2]) { return std::to_string(v[0]) + "x" + std::to_string(v[1]); }

/// Every field of a convolution step (the fingerprint reads this text).
void print_conv(std::ostream& o, const Program& p, const ConvCall& c) {
  const ConvGeometry& g = c.geometry;
  o << "    conv " << conv_pass_name(c.pass) << " N " << g.batch << " C " << g.channels << " O " << g.filters
    << " image " << pair_str(g.image) << " kernel " << pair_str(g.kernel) << " out " << pair_str(g.out)
    << " stride " << pair_str(g.stride) << " pad " << pair_str(g.pad) << " dilation " << pair_str(g.dilation)
    << (c.generated ? " generated" : "") << "\n";
  o << "    image " << conv_operand_str(p, c.image) << "\n    weight " << conv_operand_str(p, c.weight)
    << "\n    result " << conv_operand_str(p, c.result) << "\n";
}

}  // namespace

std::string print_program(const Program& p) {
  std::ostringstream o;
  o << "program " << p.entry << (p.training ? " (training)" : "") << ": " << p.steps.size() << " steps, "
    << p.kernel_count() << " kernels, arena " << p.arena_bytes << " bytes (unplanned " << p.unplanned_bytes
    << ")\n";
  for (const auto& b : p.buffers) {
    o << "  b" << b.id << " " << buffer_kind_name(b.kind) << " " << b.name << " : " << dtype_name(b.dtype)
      << ints_str(b.dims);
    if (b.kind == BufferKind::temp && b.offset >= 0) o << " @" << b.offset;
    o << "\n";
  }
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const Step& s = p.steps[i];
    o << "step " << i << " " << s.kind_name();
    if (!s.nodes.empty()) {
      o << " (";
      for (size_t j = 0; j < s.nodes.size(); ++j) o << (j ? ", " : "") << s.nodes[j];
      o << ")";
    }
    o << "\n";
    if (auto* k = s.loop()) print_loop(o, p, *k, "    ");
    if (auto* g = s.gemm()) {
      o << "    gemm m " << g->m << " n " << g->n << " k " << g->k;
      if (g->batch != 1) o << " batch " << g->batch;
      o << " alpha " << num_str(g->alpha) << " beta " << num_str(g->beta) << "\n";
      o << "    A " << operand_str(p, g->a) << "\n    B " << operand_str(p, g->b) << "\n    C "
        << operand_str(p, g->c) << "\n";
      if (g->has_epilogue()) {
        o << "    epilogue\n";
        print_loop(o, p, g->epilogue, "      ");
      }
    }
    if (auto* c = s.copy()) {
      o << "    " << buf(p, c->src);
      if (c->src_offset) o << " +" << c->src_offset;
      o << " -> " << buf(p, c->dst);
      if (c->dst_offset) o << " +" << c->dst_offset;
      o << " numel " << c->numel << "\n";
    }
    if (auto* r = s.all_reduce())
      for (size_t k = 0; k < r->src.size() && k < r->dst.size(); ++k)
        o << "    mean over processes " << buf(p, r->src[k]) << " -> " << buf(p, r->dst[k]) << "\n";
    if (auto* c = s.conv()) print_conv(o, p, *c);
  }
  return o.str();
}


// ---------------------------------------------------------------------------
// Checking

namespace {

int scalar_arity(ScalarOp op) {
  switch (op) {
    case ScalarOp::arg: case ScalarOp::constant: return 0;
    case ScalarOp::neg: case ScalarOp::exp: case ScalarOp::log: case ScalarOp::log1p:
    case ScalarOp::sqrt: case ScalarOp::rsqrt: case ScalarOp::abs: case ScalarOp::sign:
    case ScalarOp::tanh: case ScalarOp::trunc: return 1;
    case ScalarOp::select: return 3;
    default: return 2;
  }
}

class Checker {
 public:
  explicit Checker(const Program& p) : p_(p) {}

  void run() {
    // Executors allocate the arena and every output and constant buffer as
    // the file says: check those sizes before they do.
    where_ = "program '" + p_.entry + "'";
    if (p_.arena_bytes < 0) fail("arena of " + std::to_string(p_.arena_bytes) + " bytes");
    if (std::string big = size_fault(p_.arena_bytes); !big.empty()) fail("the temp arena takes " + big);
    for (size_t i = 0; i < p_.buffers.size(); ++i) check_buffer(static_cast<int>(i));
    for (size_t i = 0; i < p_.steps.size(); ++i) {
      where_ = "program '" + p_.entry + "' step " + std::to_string(i) + " (" + p_.steps[i].kind_name() + ")";
      check_step(p_.steps[i]);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(where_ + ": " + what); }

  void check_buffer(int i) {
    const Buffer& b = p_.buffers[i];
    where_ = "program '" + p_.entry + "' buffer b" + std::to_string(i) + " '" + b.name + "'";
    if (b.id != i) fail("id " + std::to_string(b.id) + " does not match its position");
    int64_t n = 1;
    for (int64_t d : b.dims) {
      if (d < 0) fail("negative dimension");
      n = saturating_mul(n, d);
    }
    if (n != b.numel) fail("numel " + std::to_string(b.numel) + " does not match its dims");
    if (std::string big = size_fault(saturating_mul(n, dtype_size(b.dtype))); !big.empty())
      fail(TensorType{b.dtype, b.dims}.str() + " takes " + big);
    if (b.kind == BufferKind::constant && static_cast<int64_t>(b.data.size()) != b.numel)
      fail("constant holds " + std::to_string(b.data.size()) + " values, expected " + std::to_string(b.numel));
    if (b.kind == BufferKind::temp && (b.offset < 0 || saturating_add(b.offset, b.bytes()) > p_.arena_bytes))
      fail("arena offset " + std::to_string(b.offset) + " outside the arena of " + std::to_string(p_.arena_bytes) +
           " bytes");
  }

  const Buffer& buffer(int id, bool write) const {
    if (id < 0 || id >= static_cast<int>(p_.buffers.size())) fail("buffer index " + std::to_string(id) + " out of range");
    const Buffer& b = p_.buffers[id];
    if (write && (b.kind == BufferKind::input || b.kind == BufferKind::constant))
      fail("writes read-only buffer b" + std::to_string(id) + " '" + b.name + "'");
    return b;
  }

  /// The extent of an access over `dims` stays inside its buffer.
  void check_access(const Access& a, const std::vector<int64_t>& dims, bool write) const {
    if (a.strides.size() != dims.size())
      fail("access has " + std::to_string(a.strides.size()) + " strides for rank " + std::to_string(dims.size()));
    if (a.iota_dim >= 0) {
      if (write) fail("stores to an iota");
      if (a.iota_dim >= static_cast<int>(dims.size())) fail("iota dim out of range");
      if (a.mask) fail("a load is both an iota and a mask");
      if (!a.guards.empty()) fail("an iota load has guards");
      return;
    }
    if (a.mask) return check_mask(a, write);
    if (!a.guards.empty()) return check_guarded(a, dims, write);
    const Buffer& b = buffer(a.buffer, write);
    if (a.offset < 0) fail("negative offset");
    int64_t last = a.offset;
    for (size_t d = 0; d < dims.size(); ++d) {
      if (dims[d] == 0) return;  // nothing is accessed
      if (a.strides[d] < 0) fail("negative stride");
      last = saturating_add(last, saturating_mul(dims[d] - 1, a.strides[d]));
    }
    if (last >= b.numel)
      fail("access reaches element " + std::to_string(last) + " of b" + std::to_string(a.buffer) + " '" + b.name +
           "' which holds " + std::to_string(b.numel));
  }

  /// A guarded load reads sum stride x coordinate over its guards, each
  /// coordinate in [0, extent): in the buffer when the largest such sum is.
  void check_guarded(const Access& a, const std::vector<int64_t>& dims, bool write) const {
    if (write) fail("a store has guards");
    if (a.iota_dim >= 0) fail("an iota load has guards");
    const Buffer& b = buffer(a.buffer, write);
    if (std::isnan(a.pad)) fail("guarded load pads with NaN");
    // Coefficients and offsets may be negative: exact arithmetic, any
    // overflow an error.
    auto mul_add = [&](int64_t acc, int64_t x, int64_t y) {
      int64_t p = 0;
      if (__builtin_mul_overflow(x, y, &p) || __builtin_add_overflow(acc, p, &acc)) fail("guarded load overflows");
      return acc;
    };
    int64_t offset = 0, last = 0;
    std::vector<int64_t> strides(dims.size(), 0);
    for (const auto& g : a.guards) {
      if (g.coefs.size() != dims.size())
        fail("guard has " + std::to_string(g.coefs.size()) + " coefficients for rank " + std::to_string(dims.size()));
      if (g.extent < 1 || g.stride < 0) fail("guard of extent " + std::to_string(g.extent) + ", stride " + std::to_string(g.stride));
      offset = mul_add(offset, g.stride, g.offset);
      for (size_t d = 0; d < dims.size(); ++d) strides[d] = mul_add(strides[d], g.stride, g.coefs[d]);
      last = mul_add(last, g.stride, g.extent - 1);
    }
    if (strides != a.strides) fail("guarded load's strides are not those of its guards");
    int64_t base = mul_add(a.offset, -1, offset);  // where coordinate 0 of every guard sits
    if (base < 0) fail("guarded load starts at element " + std::to_string(base));
    last = mul_add(last, 1, base);
    if (last >= b.numel)
      fail("guarded load reaches element " + std::to_string(last) + " of b" + std::to_string(a.buffer) + " '" + b.name +
           "' which holds " + std::to_string(b.numel));
  }

  /// A mask reads no buffer; its flat indices are those of a dense tensor.
  void check_mask(const Access& a, bool write) const {
    if (write) fail("stores to a mask");
    if (!a.guards.empty()) fail("a mask load has guards");
    if (a.buffer != -1) fail("a mask load names buffer " + std::to_string(a.buffer));
    if (!(a.mask->rate >= 0.0f && a.mask->rate < 1.0f)) fail("mask rate " + rate_str(a.mask->rate) + " outside [0, 1)");
    if (a.offset < 0) fail("negative offset");
    for (int64_t s : a.strides)
      if (s < 0) fail("negative stride");
  }

  // Each distinct node once, without recursion: a file may hold any chain,
  // and a per-path walk of a DAG is exponential in its depth.
  void check_expr(const SExpr& e, int num_args) const {
    if (!e.get()) fail("missing expression");
    for (const ScalarNode* n : scalar_post_order(e)) {
      if (static_cast<int>(n->args.size()) != scalar_arity(n->op)) fail(std::string("bad arity for ") + scalar_op_name(n->op));
      for (const auto& a : n->args)
        if (!a.get()) fail("missing expression");
      if (n->op == ScalarOp::arg && (n->index < 0 || n->index >= num_args))
        fail("expression reads $" + std::to_string(n->index) + " of " + std::to_string(num_args));
    }
  }

  /// Indices of the args an expression reads.
  static void args_of(const SExpr& e, std::vector<int>* out) {
    for (int a : scalar_args({e.get()})) out->push_back(a);
  }

  void check_loop(const LoopKernel& k) const {
    for (int64_t d : k.dims)
      if (d < 0) fail("negative iteration dim");
    if (k.reduce_dims < 0 || k.reduce_dims > static_cast<int>(k.dims.size())) fail("reduce_dims out of range");
    if (k.reduces() != (k.reduce_dims > 0)) fail("reductions and reduce_dims disagree");
    if (k.stores.empty()) fail("loop kernel stores nothing");
    int nloads = static_cast<int>(k.loads.size());
    for (const auto& l : k.loads) check_access(l, k.dims, false);
    int naccs = static_cast<int>(k.reductions.size());
    for (int j = 0; j < naccs; ++j) {
      ReduceOp op = k.reductions[j].op;
      if (op != ReduceOp::sum && op != ReduceOp::max && op != ReduceOp::min) fail("unknown reduce op");
      check_expr(k.reductions[j].body, nloads + j);  // earlier accumulators only
    }
    size_t first_reduced = k.dims.size() - k.reduce_dims;
    auto reduced_stride = [&](const Access& a) {
      for (size_t d = first_reduced; d < k.dims.size(); ++d)
        if (a.strides[d] != 0) return true;
      return false;
    };
    for (const auto& s : k.stores) {
      check_access(s.at, k.dims, true);
      check_expr(s.value, nloads + naccs);
      if (s.per_element && !k.reduces()) fail("a per-element store in a kernel that reduces nothing");
      if (!k.reduces() || s.per_element) continue;
      if (reduced_stride(s.at)) fail("a reduction's store moves along a reduced dim");
      std::vector<int> used;
      args_of(s.value, &used);
      for (int u : used)
        if (u < nloads && k.loads[u].iota_dim < 0 && reduced_stride(k.loads[u]))
          fail("a reduction's store reads $" + std::to_string(u) + ", which moves along a reduced dim");
    }
  }

  void check_numel(int id, int64_t want, const char* role) const {
    const Buffer& b = buffer(id, false);
    if (b.numel != want)
      fail(std::string(role) + " b" + std::to_string(id) + " holds " + std::to_string(b.numel) + " elements, expected " +
           std::to_string(want));
  }

  void check_operand(const GemmOperand& x, int64_t rows, int64_t cols, int64_t batch, bool write, const char* role) const {
    const Buffer& b = buffer(x.buffer, write);
    int64_t r = x.trans ? cols : rows, c = x.trans ? rows : cols;
    if (b.dtype != DType::f32) fail(std::string("GEMM operand ") + role + " is not f32");
    if (x.ld < c || x.offset < 0 || x.batch_stride < 0) fail(std::string("GEMM operand ") + role + " has a bad layout");
    if (r == 0 || c == 0 || batch == 0) return;
    int64_t last = saturating_add(saturating_add(x.offset, saturating_mul(batch - 1, x.batch_stride)),
                                  saturating_add(saturating_mul(r - 1, x.ld), c - 1));
    if (last >= b.numel) fail(std::string("GEMM operand ") + role + " reaches past its buffer");
  }

  void check_gemm(const GemmCall& g) const {
    if (g.m < 0 || g.n < 0 || g.k < 0 || g.batch < 1) fail("bad GEMM sizes");
    check_operand(g.a, g.m, g.k, g.batch, false, "A");
    check_operand(g.b, g.k, g.n, g.batch, false, "B");
    check_operand(g.c, g.m, g.n, g.batch, true, "C");
    if (g.c.trans) fail("GEMM output C cannot be transposed");
    if (g.has_epilogue()) check_loop(g.epilogue);
  }

  void check_copy(const CopyStep& c) const {
    const Buffer& s = buffer(c.src, false);
    const Buffer& d = buffer(c.dst, true);
    if (s.dtype != d.dtype) fail("copy between different dtypes");
    if (c.numel < 0 || c.src_offset < 0 || c.dst_offset < 0 || saturating_add(c.src_offset, c.numel) > s.numel ||
        saturating_add(c.dst_offset, c.numel) > d.numel)
      fail("copy out of range");
  }

  void check_all_reduce(const AllReduceStep& r) const {
    if (r.src.empty() || r.src.size() != r.dst.size()) fail("all_reduce needs as many destinations as sources, at least one");
    std::set<int> dsts;
    for (size_t k = 0; k < r.src.size(); ++k) {
      const Buffer& s = buffer(r.src[k], false);
      const Buffer& d = buffer(r.dst[k], true);
      if (s.dtype != d.dtype || s.numel != d.numel) fail("all_reduce between buffers of different types");
      if (s.dtype != DType::f32 && s.dtype != DType::f64) fail("all_reduce of a buffer that is not f32 or f64");
      if (d.kind != BufferKind::temp && d.kind != BufferKind::output && d.kind != BufferKind::state)
        fail("all_reduce writes a buffer that is not a temp, an output or a state");
      if (!dsts.insert(r.dst[k]).second) fail("all_reduce writes buffer b" + std::to_string(r.dst[k]) + " twice");
    }
    // In place (src[k] == dst[k]) is allowed; any other sharing is not.
    for (size_t i = 0; i < r.src.size(); ++i)
      for (size_t k = 0; k < r.dst.size(); ++k)
        if (!(i == k && r.src[i] == r.dst[k]) && (r.src[i] == r.dst[k] || overlapping_temps(r.src[i], r.dst[k])))
          fail("all_reduce reads a buffer it writes");
  }

  void check_conv(const ConvCall& c) const {
    const ConvGeometry& g = c.geometry;
    if (g.batch < 0 || g.channels < 1 || g.filters < 1) fail("bad convolution sizes");
    for (int a = 0; a < 2; ++a) {
      if (g.image[a] < 1 || g.kernel[a] < 1 || g.stride[a] < 1 || g.dilation[a] < 1 || g.pad[a] < 0 ||
          g.out[a] < 1)
        fail("bad convolution window");
      // The padded image must hold the dilated kernel, and `out` must be
      // the positions it takes: the library's loops rely on both.
      int64_t span = saturating_add(saturating_mul(g.dilation[a], g.kernel[a] - 1), 1);
      int64_t padded = saturating_add(g.image[a], saturating_mul(2, g.pad[a]));
      if (padded < span || g.out[a] != (padded - span) / g.stride[a] + 1)
        fail("convolution output of " + std::to_string(g.out[a]) + " positions does not match its window");
    }
    const bool w_img = c.pass == ConvPass::input_grad, w_wt = c.pass == ConvPass::weight_grad,
               w_res = c.pass == ConvPass::forward;
    auto numel = [](std::initializer_list<int64_t> dims) {
      int64_t n = 1;
      for (int64_t d : dims) n = saturating_mul(n, d);
      return n;
    };
    check_dense(c.image, numel({g.batch, g.channels, g.image[0], g.image[1]}), w_img, "image");
    check_dense(c.weight, numel({g.filters, g.channels, g.kernel[0], g.kernel[1]}), w_wt, "weight");
    check_dense(c.result, numel({g.batch, g.filters, g.out[0], g.out[1]}), w_res, "result");
    const int out = c.written().buffer;
    for (const ConvOperand* in : {&c.image, &c.weight, &c.result})
      if (in->buffer != out && overlapping_temps(in->buffer, out)) fail("convolution reads a buffer it writes");
    int same = (c.image.buffer == out) + (c.weight.buffer == out) + (c.result.buffer == out);
    if (same != 1) fail("convolution reads a buffer it writes");
  }

  void check_dense(const ConvOperand& x, int64_t numel, bool write, const char* role) const {
    const Buffer& b = buffer(x.buffer, write);
    if (b.dtype != DType::f32) fail(std::string("convolution ") + role + " is not f32");
    if (x.offset < 0 || saturating_add(x.offset, numel) > b.numel)
      fail(std::string("convolution ") + role + " reaches past its buffer");
  }

  /// True when temps `x` and `y` share arena bytes.
  bool overlapping_temps(int x, int y) const {
    const Buffer& a = p_.buffers[x];
    const Buffer& b = p_.buffers[y];
    return a.kind == BufferKind::temp && b.kind == BufferKind::temp && a.offset >= 0 && b.offset >= 0 &&
           a.offset < b.offset + b.bytes() && b.offset < a.offset + a.bytes();
  }

  void check_step(const Step& s) const {
    if (auto* k = s.loop()) check_loop(*k);
    if (auto* g = s.gemm()) check_gemm(*g);
    if (auto* c = s.copy()) check_copy(*c);
    if (auto* r = s.all_reduce()) check_all_reduce(*r);
    if (auto* c = s.conv()) check_conv(*c);
    for (const auto& [value, id] : s.values) buffer(id, false);
  }

  const Program& p_;
  std::string where_;
};

}  // namespace

void check_program(const Program& p) { Checker(p).run(); }

uint64_t program_fingerprint(const std::vector<Program>& programs) {
  // FNV-1a over the printed programs: the text holds everything listed above.
  uint64_t h = 1469598103934665603ull;
  for (const Program& p : programs)
    for (unsigned char c : print_program(p)) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace dlc
