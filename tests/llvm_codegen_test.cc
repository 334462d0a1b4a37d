// LLVM codegen plumbing: scalar expressions → LLVM IR → object → shared
// object (in-process LLD) → memfd load, checked against eval_scalar.
#include <gtest/gtest.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

#include <cmath>
#include <random>

#include "compiler/codegen/cpu/cpu_codegen.h"
#include "compiler/codegen/cpu/loop_shape.h"
#include "compiler/codegen/cpu/object_emitter.h"
#include "compiler/codegen/cpu/scalar_emitter.h"
#include "compiler/codegen/cpu/shared_object_linker.h"
#include "ir/error.h"
#include "runtime/cpu_executor.h"
#include "runtime/memfd_loader.h"
#include "tests/kernel_test_util.h"

namespace dlc {
namespace {

using test::add_buffer;
using test::at;

// f(a, b, c, out, n): out[i] = expr(a[i], b[i], c[i]) for i in [0, n).
using ElementwiseFn = void (*)(const float*, const float*, const float*, float*, int64_t);

// Adds a loop function named `name` computing `e` element-wise.
void add_elementwise_function(llvm::Module& m, const std::string& name, const SExpr& e, bool in_double = false) {
  llvm::LLVMContext& ctx = m.getContext();
  llvm::Type* ptr = llvm::PointerType::getUnqual(ctx);
  llvm::Type* i64 = llvm::Type::getInt64Ty(ctx);
  llvm::Type* f32 = in_double ? llvm::Type::getDoubleTy(ctx) : llvm::Type::getFloatTy(ctx);
  auto* fty = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, ptr, ptr, ptr, i64}, false);
  auto* fn = llvm::Function::Create(fty, llvm::Function::ExternalLinkage, name, m);
  auto* entry = llvm::BasicBlock::Create(ctx, "entry", fn);
  auto* body = llvm::BasicBlock::Create(ctx, "body", fn);
  auto* done = llvm::BasicBlock::Create(ctx, "done", fn);
  llvm::IRBuilder<> b(entry);
  llvm::Value* n = fn->getArg(4);
  b.CreateCondBr(b.CreateICmpSGT(n, b.getInt64(0)), body, done);
  b.SetInsertPoint(body);
  llvm::PHINode* i = b.CreatePHI(i64, 2);
  i->addIncoming(b.getInt64(0), entry);
  std::vector<llvm::Value*> operands;
  for (int k = 0; k < 3; ++k) operands.push_back(b.CreateLoad(f32, b.CreateGEP(f32, fn->getArg(k), i)));
  b.CreateStore(cpu::emit_scalar(b, e, operands), b.CreateGEP(f32, fn->getArg(3), i));
  llvm::Value* next = b.CreateAdd(i, b.getInt64(1));
  i->addIncoming(next, body);
  b.CreateCondBr(b.CreateICmpSLT(next, n), body, done);
  b.SetInsertPoint(done);
  b.CreateRetVoid();
}

struct Case {
  std::string name;
  SExpr expr;
};

std::vector<Case> every_op() {
  SExpr x = arg(0), y = arg(1), z = arg(2);
  return {
      {"arg", y},
      {"constant", SExpr(0.25)},
      {"add", x + y},
      {"sub", x - y},
      {"mul", x * y},
      {"div", x / y},
      {"neg", -x},
      {"exp", exp(x)},
      {"log", log(x)},
      {"log1p", log1p(x)},
      {"sqrt", sqrt(x)},
      {"rsqrt", rsqrt(x)},
      {"abs", abs(x)},
      {"sign", sign(x)},
      {"tanh", tanh(x)},
      {"trunc", trunc(x)},
      {"max", max(x, y)},
      {"min", min(x, y)},
      {"pow", pow(abs(x), y)},
      {"greater", greater(x, y)},
      {"less", less(x, y)},
      {"equal", equal(trunc(x * 2.0), trunc(y * 2.0))},
      {"select", select(greater(x, z), x, y)},
      // A shared subexpression (a DAG, not a tree) and a composite.
      {"sigmoid_dag", [&] {
         SExpr s = 1.0 / (1.0 + exp(-x));
         return s * (1.0 - s) + s;
       }()},
  };
}

// Builds one module with a function per case, links it and loads it.
class CompiledCases {
 public:
  explicit CompiledCases(const std::vector<Case>& cases, const std::string& cpu = cpu::kDefaultCpu,
                         bool in_double = false) {
    llvm::LLVMContext ctx;
    llvm::Module m("cases", ctx);
    auto tm = cpu::make_target_machine(cpu);
    cpu::configure_module(m, *tm);
    for (const Case& c : cases) add_elementwise_function(m, "case_" + c.name, c.expr, in_double);
    lib_ = MemoryLibrary::load(cpu::link_shared_object(cpu::emit_object(m, *tm)), "test cases");
  }
  ElementwiseFn get(const std::string& name) const {
    return reinterpret_cast<ElementwiseFn>(lib_->symbol("case_" + name));
  }

 private:
  std::unique_ptr<MemoryLibrary> lib_;
};

// Inputs: random values of both signs, with NaN, infinities and zeros
// sprinkled in; n is odd so vector loops also run their remainder.
std::vector<float> inputs(uint64_t seed, int64_t n) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  const float specials[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1.0f};
  for (int k = 0; k < 6; ++k) v[(seed * 7 + k * 13) % n] = specials[k];
  return v;
}

bool matches(double want, float got) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isnan(got)) return false;
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= 1e-5 * std::max(1.0, std::fabs(want));
}

TEST(LlvmCodegen, EveryScalarOpMatchesEvalScalarIncludingNaN) {
  std::vector<Case> cases = every_op();
  CompiledCases compiled(cases);
  const int64_t n = 1023;
  std::vector<float> a = inputs(1, n), b = inputs(2, n), c = inputs(3, n);
  for (const Case& cs : cases) {
    std::vector<float> out(n, -12345.0f);
    compiled.get(cs.name)(a.data(), b.data(), c.data(), out.data(), n);
    int nan_inputs_seen = 0;
    for (int64_t i = 0; i < n; ++i) {
      double operands[3] = {a[i], b[i], c[i]};
      double want = eval_scalar(cs.expr, operands);
      nan_inputs_seen += std::isnan(want);
      ASSERT_TRUE(matches(want, out[i])) << cs.name << " " << scalar_to_string(cs.expr) << " at " << i << ": operands "
                                         << a[i] << ", " << b[i] << ", " << c[i] << " want " << want << " got "
                                         << out[i];
    }
    // Ops that read a NaN operand must have produced NaN somewhere.
    if (cs.name == "add" || cs.name == "max" || cs.name == "min" || cs.name == "exp") {
      EXPECT_GT(nan_inputs_seen, 0) << cs.name;
    }
  }
}

TEST(LlvmCodegen, VectorExpAndTanhAreAccurateOverTheirWholeRange) {
  // exp and tanh are polynomials in the generated code (so loops using them
  // vectorize); sweep far past where they overflow, underflow or saturate.
  CompiledCases compiled({{"exp", exp(arg(0))}, {"tanh", tanh(arg(0))}});
  std::vector<float> xs;
  for (double x = -110; x <= 110; x += 0.0137) xs.push_back(static_cast<float>(x));
  for (float x : {0.0f, -0.0f, 1e-30f, -1e-7f, 3e-4f, 88.72f, 88.73f, -103.9f, -104.1f, INFINITY, -INFINITY, NAN})
    xs.push_back(x);
  int64_t n = static_cast<int64_t>(xs.size());
  std::vector<float> out(n), unused(n, 0.0f);
  for (const char* name : {"exp", "tanh"}) {
    compiled.get(name)(xs.data(), unused.data(), unused.data(), out.data(), n);
    double worst = 0;
    for (int64_t i = 0; i < n; ++i) {
      double want = std::string(name) == "exp" ? std::exp(static_cast<double>(xs[i])) : std::tanh(static_cast<double>(xs[i]));
      if (std::isnan(want) || std::isinf(want) || std::isinf(static_cast<float>(want))) {
        EXPECT_TRUE(std::isnan(want) ? std::isnan(out[i]) : out[i] == static_cast<float>(want)) << name << "(" << xs[i] << ") = " << out[i];
        continue;
      }
      // Relative error where the result is a normal float; denormal results
      // only need to be tiny.
      double err = std::fabs(out[i] - want) / std::max(std::fabs(want), 1e-37);
      if (std::fabs(want) < 1.2e-38) err = std::fabs(out[i] - want) < 1e-44 ? 0 : 1;
      worst = std::max(worst, err);
    }
    EXPECT_LT(worst, 1e-6) << name;
  }
}

TEST(LlvmCodegen, DoubleExpIsAccurateOverItsWholeRange) {
  // Kernels over integer or f64 buffers compute in double; their exp is a
  // rational approximation in the generated code, not a call into libm.
  CompiledCases compiled({{"exp", exp(arg(0))}}, cpu::kDefaultCpu, /*in_double=*/true);
  using DoubleFn = void (*)(const double*, const double*, const double*, double*, int64_t);
  auto fn = reinterpret_cast<DoubleFn>(compiled.get("exp"));
  std::vector<double> xs;
  for (double x = -760; x <= 720; x += 0.0371) xs.push_back(x);
  for (double x : {0.0, -0.0, 1e-300, -1e-17, 709.78, 709.79, -744.4, -745.2, -746.5, double(INFINITY), -double(INFINITY), double(NAN)})
    xs.push_back(x);
  int64_t n = static_cast<int64_t>(xs.size());
  std::vector<double> out(n), unused(n, 0.0);
  fn(xs.data(), unused.data(), unused.data(), out.data(), n);
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    double want = std::exp(xs[i]);
    if (std::isnan(want) || std::isinf(want) || want == 0) {
      EXPECT_TRUE(std::isnan(want) ? std::isnan(out[i]) : out[i] == want) << "exp(" << xs[i] << ") = " << out[i];
      continue;
    }
    // Relative error where the result is a normal double; denormal results
    // only need to be within a few of the smallest denormal.
    double err = std::fabs(out[i] - want) / want;
    if (want < 2.3e-308) err = std::fabs(out[i] - want) <= 4 * 4.9e-324 ? 0 : 1;
    worst = std::max(worst, err);
  }
  EXPECT_LT(worst, 1e-15);
}

TEST(LlvmCodegen, MaxAndMinPropagateNaNFromEitherSide) {
  CompiledCases compiled({{"max", max(arg(0), arg(1))}, {"min", min(arg(0), arg(1))}});
  std::vector<float> a = {NAN, 1.0f, NAN, -2.0f}, b = {1.0f, NAN, NAN, 3.0f}, c(4, 0.0f), out(4);
  for (const char* name : {"max", "min"}) {
    compiled.get(name)(a.data(), b.data(), c.data(), out.data(), 4);
    EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[1]) && std::isnan(out[2])) << name;
    EXPECT_EQ(out[3], std::string(name) == "max" ? 3.0f : -2.0f) << name;
  }
}

TEST(LlvmCodegen, NativeCpuCompilesAndRuns) {
  CompiledCases compiled({{"fma", arg(0) * arg(1) + arg(2)}}, "native");
  std::vector<float> a = inputs(4, 37), b = inputs(5, 37), c = inputs(6, 37), out(37);
  compiled.get("fma")(a.data(), b.data(), c.data(), out.data(), 37);
  for (int i = 0; i < 37; ++i) {
    double operands[3] = {a[i], b[i], c[i]};
    EXPECT_TRUE(matches(eval_scalar(arg(0) * arg(1) + arg(2), operands), out[i])) << i;
  }
}

TEST(LlvmCodegen, UnknownCpuIsAClearError) {
  try {
    cpu::make_target_machine("pentium-9000");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pentium-9000"), std::string::npos) << e.what();
  }
}

TEST(LlvmCodegen, OperandOutOfRangeIsAnError) {
  llvm::LLVMContext ctx;
  llvm::Module m("bad", ctx);
  EXPECT_THROW(add_elementwise_function(m, "bad", arg(5)), Error);
}

// --- kernel IR to vector code -------------------------------------------------------

/// The text of function `name` in an LLVM IR module.
std::string function_text(const std::string& ir, const std::string& name) {
  size_t start = ir.find("define void @" + name + "(");
  if (start == std::string::npos) return "";
  return ir.substr(start, ir.find("\n}\n", start) - start);
}

TEST(LlvmCodegen, InPlaceUpdatesAndColumnSumsVectorize) {
  // w := w - lr * g in place over [300, 7] (one flat loop once canonical),
  // and a bias-gradient column sum over the rows of g.
  Program p;
  p.entry = "train_step";
  int lr = add_buffer(p, BufferKind::input, "lr", {});
  int g = add_buffer(p, BufferKind::input, "g", {300, 7});
  int w = add_buffer(p, BufferKind::state, "w", {300, 7});
  int db = add_buffer(p, BufferKind::output, "db", {7});
  LoopKernel update;
  update.dims = {300, 7};
  update.loads = {at(w, {7, 1}), at(lr, {0, 0}), at(g, {7, 1})};
  update.stores = {{at(w, {7, 1}), arg(0) - arg(1) * arg(2)}};
  LoopKernel column;
  column.dims = {7, 300};
  column.reduce_dims = 1;
  column.reductions = {{ReduceOp::sum, arg(0)}};
  column.loads = {at(g, {1, 7})};
  column.stores = {{at(db, {1, 0}), arg(1)}};
  p.steps.resize(2);
  p.steps[0].body = update;
  p.steps[1].body = column;
  check_program(p);
  EXPECT_EQ(cpu::canonical_shape(update).dims, std::vector<int64_t>{2100});
  EXPECT_EQ(cpu::canonical_shape(column).order, cpu::ReduceOrder::column);

  std::string ir;
  cpu::CpuCodegenOptions opts;
  opts.optimized_llvm_ir = &ir;
  cpu::compile_programs({p}, opts);
  // The in-place loop vectorizes with no aliasing checks between w and g:
  // the kernel IR guarantees each iteration only touches its own elements.
  std::string update_fn = function_text(ir, cpu_abi::kernel_symbol("train_step", 0));
  EXPECT_NE(update_fn.find("<4 x float>"), std::string::npos) << update_fn;
  EXPECT_EQ(update_fn.find("vector.memcheck"), std::string::npos) << update_fn;
  std::string column_fn = function_text(ir, cpu_abi::kernel_symbol("train_step", 1));
  EXPECT_NE(column_fn.find("x double>"), std::string::npos) << column_fn;
}

TEST(LlvmCodegen, ShortRowKernelsVectorizeAcrossRows) {
  // A softmax over 10 classes (float), and row_kernel_program's three
  // accumulators with an i64 store (computed in double): each row unrolled
  // into straight-line code of over 1024 instructions, still vectorized
  // across rows, with exp inline in both precisions.
  Program p;
  p.entry = "predict";
  int x = add_buffer(p, BufferKind::input, "x", {1000, 10});
  int probs = add_buffer(p, BufferKind::output, "probs", {1000, 10});
  LoopKernel softmax;
  softmax.dims = {1000, 10};
  softmax.reduce_dims = 1;
  softmax.reductions = {{ReduceOp::max, arg(0)}, {ReduceOp::sum, exp(arg(0) - arg(1))}};
  softmax.loads = {at(x, {10, 1})};
  softmax.stores = {{at(probs, {10, 1}), exp(arg(0) - arg(1)) / arg(2), true}};
  p.steps.resize(1);
  p.steps[0].body = softmax;
  check_program(p);
  Program rows = test::row_kernel_program("train_step", 1000, 10);
  std::string ir;
  cpu::CpuCodegenOptions opts;
  opts.optimized_llvm_ir = &ir;
  cpu::compile_programs({p, rows}, opts);
  std::string softmax_fn = function_text(ir, cpu_abi::kernel_symbol("predict", 0));
  EXPECT_NE(softmax_fn.find("x float>"), std::string::npos) << softmax_fn.substr(0, 2000);
  std::string rows_fn = function_text(ir, cpu_abi::kernel_symbol("train_step", 0));
  EXPECT_NE(rows_fn.find("x double>"), std::string::npos) << rows_fn.substr(0, 2000);
  EXPECT_EQ(ir.find("@exp("), std::string::npos);
}

TEST(LlvmCodegen, PoolingWindowsVectorizeWithoutGathers) {
  // 2x2 max pooling over rows of 28 and its gradient: the window's two
  // columns are stride-2 accesses of one contiguous row. Vectorized as wide
  // loads and shuffles (interleaved groups), not as gathers and scatters,
  // which are slower than the scalar loop (the gradient 0.34-0.37 against
  // 0.255 ms on AMD Zen 4 in LeNet-5).
  Program p;
  p.entry = "train_step";
  int x = add_buffer(p, BufferKind::input, "x", {64, 28, 28});
  int g = add_buffer(p, BufferKind::input, "g", {64, 14, 14});
  int y = add_buffer(p, BufferKind::output, "y", {64, 14, 14});
  int dx = add_buffer(p, BufferKind::output, "dx", {64, 28, 28});
  LoopKernel pool;  // [image * row, column, window row, window column]
  pool.dims = {64 * 14, 14, 2, 2};
  pool.reduce_dims = 2;
  pool.reductions = {{ReduceOp::max, arg(0)}};
  pool.loads = {at(x, {56, 2, 28, 1})};
  pool.stores = {{at(y, {14, 1, 0, 0}), arg(1)}};
  LoopKernel grad;  // [image * row, window row, column, window column]
  grad.dims = {64 * 14, 2, 14, 2};
  grad.loads = {at(x, {56, 28, 2, 1}), at(g, {14, 0, 1, 0})};
  grad.stores = {{at(dx, {56, 28, 2, 1}), arg(0) * arg(1)}};
  p.steps.resize(2);
  p.steps[0].body = pool;
  p.steps[1].body = grad;
  check_program(p);
  std::string ir;
  cpu::CpuCodegenOptions opts;
  opts.cpu = "znver4";  // AVX-512, where gathers and scatters are legal
  opts.optimized_llvm_ir = &ir;
  cpu::compile_programs({p}, opts);
  for (int step : {0, 1}) {
    std::string fn = function_text(ir, cpu_abi::kernel_symbol("train_step", step));
    SCOPED_TRACE(step == 0 ? "pooling" : "its gradient");
    EXPECT_NE(fn.find("x float>"), std::string::npos) << fn.substr(0, 2000);
    EXPECT_NE(fn.find("shufflevector"), std::string::npos);
    EXPECT_EQ(fn.find("masked.gather"), std::string::npos);
    EXPECT_EQ(fn.find("masked.scatter"), std::string::npos);
  }
}

TEST(MemfdLoader, MissingSymbolAndNonElfBytesAreClearErrors) {
  CompiledCases compiled({{"add", arg(0) + arg(1)}});
  try {
    compiled.get("nope");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("case_nope"), std::string::npos) << e.what();
  }
  EXPECT_THROW(MemoryLibrary::load("not a shared object", "junk"), Error);
}

TEST(MemfdLoader, TwoLibrariesLoadedAtOnceStayDistinct) {
  // Each library keeps its own fd, so the second load cannot be mistaken
  // for the first by the dynamic loader's name cache.
  auto first = std::make_unique<CompiledCases>(std::vector<Case>{{"f", arg(0) + 1.0}});
  auto second = std::make_unique<CompiledCases>(std::vector<Case>{{"f", arg(0) + 2.0}});
  std::vector<float> a = {1.0f}, out(1);
  first->get("f")(a.data(), a.data(), a.data(), out.data(), 1);
  EXPECT_EQ(out[0], 2.0f);
  second->get("f")(a.data(), a.data(), a.data(), out.data(), 1);
  EXPECT_EQ(out[0], 3.0f);
  first.reset();
  auto third = std::make_unique<CompiledCases>(std::vector<Case>{{"f", arg(0) + 3.0}});
  third->get("f")(a.data(), a.data(), a.data(), out.data(), 1);
  EXPECT_EQ(out[0], 4.0f);
}

}  // namespace
}  // namespace dlc
