// Sizes from untrusted input (file headers, declared and inferred tensor
// shapes, kernel programs) are checked against the memory limit before
// anything is allocated, and the errors name the file or tensor, the size
// and the limit (ir/size_limits.h). Also: `dlrun info` (the C API's
// inspect) refuses executables whose kernel programs are corrupt.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <limits>

#include "compiler/gradcheck.h"
#include "compiler/memory_plan.h"
#include "compiler/pipeline.h"
#include "dlrt.h"
#include "frontend/model_loader.h"
#include "ir/error.h"
#include "ir/size_limits.h"
#include "ir/verifier.h"
#include "kernel/executable.h"
#include "runtime/datasets.h"
#include "runtime/npy.h"
#include "runtime/safetensors.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

/// Restores the default limit after each test.
class SizeLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("DLC_MAX_MEMORY");
    GTEST_FLAG_SET(death_test_style, "threadsafe");  // the runtime may have started threads
  }
  void TearDown() override {
    set_max_memory(0);
    unsetenv("DLC_MAX_MEMORY");
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << "message: " << (text)

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

/// An unsigned-byte IDX file whose header claims `dims` but which holds only `data_bytes` bytes of data.
std::string idx_claiming(const std::vector<uint32_t>& dims, size_t data_bytes) {
  std::string s = {0, 0, 8, static_cast<char>(dims.size())};
  for (uint32_t d : dims) s += be32(d);
  return s + std::string(data_bytes, '\1');
}

void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

/// Runs `body` in a child process whose address space may grow by only
/// 256 MiB, and expects it to exit 0: an allocation of what a header claims
/// (1 GiB and more) fails there with std::bad_alloc instead of quietly
/// succeeding on a machine with the memory.
#define EXPECT_WITHIN_256_MIB(body)                                                          \
  EXPECT_EXIT(                                                                               \
      {                                                                                      \
        struct rlimit lim;                                                                   \
        std::ifstream statm("/proc/self/statm");                                             \
        long pages = 0;                                                                      \
        statm >> pages;                                                                      \
        lim.rlim_cur = lim.rlim_max = static_cast<rlim_t>(pages) * 4096 + (rlim_t{256} << 20); \
        setrlimit(RLIMIT_AS, &lim);                                                          \
        try {                                                                                \
          body;                                                                              \
        } catch (const std::bad_alloc&) {                                                    \
          std::fprintf(stderr, "std::bad_alloc\n");                                          \
          std::exit(2);                                                                      \
        }                                                                                    \
        std::exit(0);                                                                        \
      },                                                                                     \
      ::testing::ExitedWithCode(0), "")

#if defined(__SANITIZE_ADDRESS__)
#define SKIP_UNDER_ASAN() GTEST_SKIP() << "AddressSanitizer reserves more address space than the limit"
#else
#define SKIP_UNDER_ASAN() (void)0
#endif

// --- the limit itself ----------------------------------------------------

TEST_F(SizeLimits, ByteCountsTakeUnitsAndRefuseNonsenseNamingTheSource) {
  EXPECT_EQ(parse_byte_count("--max-memory", "1024"), 1024);
  EXPECT_EQ(parse_byte_count("--max-memory", "16G"), int64_t{16} << 30);
  EXPECT_EQ(parse_byte_count("--max-memory", "512MiB"), int64_t{512} << 20);
  EXPECT_EQ(parse_byte_count("--max-memory", "2tb"), int64_t{2} << 40);
  for (const char* bad : {"", "abc", "0", "16X", "-5", "99999999999999999999", "9000000T"}) {
    std::string msg = error_of([&] { parse_byte_count("--max-memory", bad); });
    EXPECT_HAS(msg, std::string("--max-memory: '") + bad + "' is not a byte count");
  }
}

TEST_F(SizeLimits, TheFlagWinsOverTheEnvironmentWhichWinsOverTheDefault) {
  EXPECT_EQ(max_memory_bytes(), kDefaultMaxMemory);
  setenv("DLC_MAX_MEMORY", "1M", 1);
  EXPECT_EQ(max_memory_bytes(), 1 << 20);
  char a0[] = "dlc", a1[] = "check", a2[] = "--max-memory", a3[] = "2K", a4[] = "m.pbtxt";
  char* argv[] = {a0, a1, a2, a3, a4, nullptr};
  int argc = 5;
  EXPECT_EQ(take_max_memory_option(&argc, argv), "");
  EXPECT_EQ(argc, 3);
  EXPECT_STREQ(argv[2], "m.pbtxt");
  EXPECT_EQ(max_memory_bytes(), 2048);
  set_max_memory(0);
  setenv("DLC_MAX_MEMORY", "lots", 1);
  EXPECT_HAS(error_of([] { max_memory_bytes(); }), "DLC_MAX_MEMORY: 'lots' is not a byte count");
}

TEST_F(SizeLimits, SizeArithmeticSaturatesInsteadOfWrapping) {
  EXPECT_EQ(saturating_mul(int64_t{1} << 40, int64_t{1} << 40), kMax);
  EXPECT_EQ(saturating_mul(kMax, 0), 0);
  EXPECT_EQ(saturating_add(kMax - 1, 5), kMax);
  // one_hot's depth 10^12 at batch 16, in f32: 6.4e13 bytes, not a wrapped product.
  EXPECT_EQ(type_bytes(TensorType{DType::f32, {kBatch, 1000000000000}}, 16), 64000000000000);
  EXPECT_EQ(type_bytes(TensorType{DType::f64, {int64_t{1} << 31, int64_t{1} << 31, int64_t{1} << 31}}), kMax);
}

// --- file readers --------------------------------------------------------

TEST_F(SizeLimits, IdxHeaderClaimingAGibibyteIsTruncatedWithoutAllocatingIt) {
  SKIP_UNDER_ASAN();
  // 1 KB of data under a header claiming 1369 x 28 x 28000 bytes.
  std::string path = test::temp_dir() + "/claims-1g-idx3-ubyte";
  write_bytes(path, idx_claiming({1369, 28, 28000}, 1000));
  EXPECT_WITHIN_256_MIB({
    std::string msg = error_of([&] { read_idx(path); });
    if (msg != path + ": truncated: the data needs 1073296000 bytes, the file has 1000") {
      std::fprintf(stderr, "message: %s\n", msg.c_str());
      std::exit(1);
    }
  });
}

TEST_F(SizeLimits, GzippedIdxHeaderClaimingAGibibyteIsTruncatedWithoutAllocatingIt) {
  SKIP_UNDER_ASAN();
  // Its decompressed size is unknown until read: the data is read as it comes.
  std::string path = test::temp_dir() + "/claims-1g-idx3-ubyte.gz";
  write_gzip(path, idx_claiming({1369, 28, 28000}, 1000));
  EXPECT_WITHIN_256_MIB({
    std::string msg = error_of([&] { read_idx(path); });
    if (msg != path + ": truncated: the data needs 1073296000 bytes, the file has 1000") {
      std::fprintf(stderr, "message: %s\n", msg.c_str());
      std::exit(1);
    }
  });
}

TEST_F(SizeLimits, IdxHeaderClaimingMoreThanTheLimitNamesFileSizeAndLimit) {
  SKIP_UNDER_ASAN();
  // 2^34 unsigned bytes: 64 GiB as floats (this used to end in std::bad_alloc).
  std::string path = test::temp_dir() + "/claims-2-34-idx3-ubyte";
  write_bytes(path, idx_claiming({16384, 1024, 1024}, 1000));
  EXPECT_WITHIN_256_MIB({
    std::string msg = error_of([&] { read_idx(path); });
    if (msg.rfind(path + ": the header's [16384,1024,1024]", 0) != 0 ||
        msg.find("68719476736 bytes (64.0 GiB), over the limit of 17179869184 bytes") == std::string::npos) {
      std::fprintf(stderr, "message: %s\n", msg.c_str());
      std::exit(1);
    }
  });
}

TEST_F(SizeLimits, NpyWhoseWidenedArrayExceedsTheLimitIsRefused) {
  // 300 KB of u1 pixels become 1.2 MB of i32: over a 1 MiB limit.
  HostTensor t(TensorType{DType::f32, {75000}});
  std::string bytes = encode_npy(t);  // 300 KB of data, then relabelled u1 with 4x the elements
  std::string header_f4 = "'descr': '<f4'", header_u1 = "'descr': '|u1'";
  bytes.replace(bytes.find(header_f4), header_f4.size(), header_u1);
  std::string shape = "(75000,)", wider = "(300000,)";
  size_t at = bytes.find(shape);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, shape.size(), wider);
  bytes.erase(bytes.find('\n') - 1, 1);  // the header keeps its length
  set_max_memory(1 << 20);
  std::string msg = error_of([&] { parse_npy(bytes, "x.npy"); });
  EXPECT_HAS(msg, "x.npy: the i32[300000] array: 1200000 bytes (1.1 MiB), over the limit of 1048576 bytes");
}

TEST_F(SizeLimits, FilesLargerThanTheLimitAreRefusedBeforeBeingRead) {
  std::string dir = test::temp_dir();
  Checkpoint c;
  c.tensors["w"] = HostTensor(TensorType{DType::f32, {1000}});
  save_checkpoint(dir + "/w.safetensors", c);
  write_bytes(dir + "/x.csv", std::string(2000, '1') + "\n");
  set_max_memory(1024);
  EXPECT_HAS(error_of([&] { load_checkpoint(dir + "/w.safetensors"); }),
             dir + "/w.safetensors: the file: 4");
  EXPECT_HAS(error_of([&] { load_checkpoint(dir + "/w.safetensors"); }), "over the limit of 1024 bytes");
  EXPECT_HAS(error_of([&] { read_csv(dir + "/x.csv"); }), dir + "/x.csv: the file: 2001 bytes");
  EXPECT_HAS(error_of([&] { load_executable(dir + "/w.safetensors"); }), "over the limit of 1024 bytes");
  set_max_memory(0);
  EXPECT_EQ(error_of([&] { load_checkpoint(dir + "/w.safetensors"); }), "");
}

TEST_F(SizeLimits, CsvTableIsCheckedAsItGrows) {
  std::string path = test::temp_dir() + "/rows.csv";
  std::string text;
  for (int i = 0; i < 200; ++i) text += "1,2,3,4\n";  // 1600 bytes, 3200 bytes as floats
  write_bytes(path, text);
  set_max_memory(2000);
  EXPECT_HAS(error_of([&] { read_csv(path); }), path + ":126: the table so far as floats: 2016 bytes");
}

// --- declared and inferred tensor sizes ------------------------------------

constexpr const char* kHugeParameter = R"(
graph {
  inputs { name: "x" type { dtype: F32 dims: [-1, 1000000] } role: DATA }
  params { name: "huge" type { dtype: F32 dims: [1000000, 1000000] } init { zeros {} } }
  nodes { op: "matmul" inputs: ["x", "huge"] outputs: "y" }
  nodes { op: "reduce_sum" inputs: "y" outputs: "loss" attrs { key: "axes" value { ints { values: [0, 1] } } } }
  outputs: "y"
}
training { loss: "loss" optimizer { kind: "sgd" learning_rate: 0.1 } }
)";

constexpr const char* kHugeOneHot = R"(
graph {
  inputs { name: "label" type { dtype: I32 dims: [-1] } role: DATA }
  nodes { op: "one_hot" inputs: "label" outputs: "oh" attrs { key: "depth" value { i: 1000000000000 } } }
  nodes { op: "reduce_sum" inputs: "oh" outputs: "s" attrs { key: "axes" value { ints { values: [1] } } } }
  outputs: "s"
}
)";

const char* kParamFault =
    "big.pbtxt:4: parameter 'huge' f32[1000000,1000000] takes 4000000000000 bytes (3.6 TiB), over the limit of "
    "17179869184 bytes (16.0 GiB; --max-memory or DLC_MAX_MEMORY raises it)";

TEST_F(SizeLimits, AParameterOverTheLimitFailsCheckNamingIt) {
  Model m = parse_model_text(kHugeParameter, "big.pbtxt");
  EXPECT_HAS(error_of([&] { verify_or_throw(m); }), kParamFault);
  set_max_memory(int64_t{8} << 40);  // raised: the same model verifies
  EXPECT_EQ(error_of([&] { verify_or_throw(m); }), "");
}

TEST_F(SizeLimits, AParameterOverTheLimitFailsCompileAndGradcheckNamingIt) {
  // Both used to end in std::bad_alloc, naming nothing.
  CompileOptions opts;
  opts.target = "ref";
  opts.batch = 2;
  EXPECT_HAS(error_of([&] { compile_model(parse_model_text(kHugeParameter, "big.pbtxt"), opts); }), kParamFault);
  EXPECT_HAS(error_of([&] { gradcheck_model(parse_model_text(kHugeParameter, "big.pbtxt"), 1, 2); }), kParamFault);
}

TEST_F(SizeLimits, AnIntermediateOverTheLimitFailsCheckAtBatchOneAndCompileAtItsBatch) {
  Model m = parse_model_text(kHugeOneHot, "oh.pbtxt");
  EXPECT_HAS(error_of([&] { verify_or_throw(m); }),
             "oh.pbtxt:4: node 'oh' (one_hot): output 'oh' f32[batch,1000000000000] at batch 1 takes 4000000000000 bytes");
  // Within a raised limit at batch 1, not at the bound batch of 16.
  set_max_memory(int64_t{8} << 40);
  EXPECT_EQ(error_of([&] { verify_or_throw(m); }), "");
  CompileOptions opts;
  opts.target = "cpu";
  opts.batch = 16;
  std::string msg = error_of([&] { compile_model(m, opts); });
  EXPECT_HAS(msg, "output 'oh' f32[16,1000000000000] takes 64000000000000 bytes (58.2 TiB), over the limit of "
                  "8796093022208 bytes");
}

TEST_F(SizeLimits, OnlyTheFirstOversizedValueIsReported) {
  Model m = parse_model_text(kHugeParameter, "big.pbtxt");
  std::string msg = error_of([&] { verify_or_throw(m); });
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;  // y = x @ huge is small; nothing downstream repeats it
}

TEST_F(SizeLimits, PlannedArenaSaturatesInsteadOfWrapping) {
  // Two temps of 2^62 bytes live at once: 2^63 does not fit int64.
  Program p;
  p.entry = "predict";
  for (int i = 0; i < 3; ++i) {
    Buffer b;
    b.id = i;
    b.name = "t" + std::to_string(i);
    b.kind = i == 2 ? BufferKind::output : BufferKind::temp;
    b.dtype = DType::f32;
    b.dims = {int64_t{1} << 60};
    b.numel = b.dims[0];
    p.buffers.push_back(b);
  }
  for (int i = 0; i < 2; ++i) {
    LoopKernel k;
    k.dims = {1};
    k.stores.push_back({Access{i, 0, {0}}, SExpr(1.0)});
    p.steps.push_back(Step{k});
  }
  LoopKernel sum;
  sum.dims = {1};
  sum.loads = {Access{0, 0, {0}}, Access{1, 0, {0}}};
  sum.stores.push_back({Access{2, 0, {0}}, arg(0) + arg(1)});
  p.steps.push_back(Step{sum});
  MemoryStats stats = plan_memory(p);
  EXPECT_EQ(stats.arena_bytes, kMax / kArenaAlignment * kArenaAlignment);
  EXPECT_EQ(stats.unplanned_bytes, kMax);
}

// --- executables: what inspect (dlrun info) accepts, load accepts ----------

/// A cpu executable of softmax regression.
proto::Executable cpu_executable() {
  CompileOptions opts;
  opts.target = "cpu";
  opts.batch = 2;
  return compile_model(load_model(test::source_path("models/softmax_regression.pbtxt")), opts);
}

/// `exe` written as the compiler would, but without validating it first.
std::string write_unvalidated(proto::Executable exe, const std::string& name) {
  exe.set_end_marker(kEndMarker);
  exe.set_code_checksum(code_checksum(exe));
  std::string bytes;
  EXPECT_TRUE(exe.SerializeToString(&bytes));
  std::string path = test::temp_dir() + "/" + name;
  write_bytes(path, bytes);
  return path;
}

/// dlrt_model_inspect's status and message, the path `dlrun info` takes.
std::string inspect_error(const std::string& path) {
  dlrt_model* m = nullptr;
  dlrt_status s = dlrt_model_inspect(path.c_str(), &m);
  if (s == DLRT_OK) {
    dlrt_model_free(m);
    return "";
  }
  return dlrt_last_error();
}

TEST_F(SizeLimits, InspectRefusesACorruptKernelProgramAsLoadDoes) {
  proto::Executable exe = cpu_executable();
  ASSERT_EQ(inspect_error(write_unvalidated(exe, "good.dlc")), "");
  proto::Executable bad = exe;
  auto* buffer = bad.mutable_programs(0)->mutable_buffers(0);
  buffer->set_numel(buffer->numel() + 1);
  std::string path = write_unvalidated(bad, "bad_program.dlc");
  std::string msg = inspect_error(path);
  EXPECT_HAS(msg, path + ": kernel program for '" + exe.programs(0).entry() + "': program '");
  EXPECT_HAS(msg, "does not match its dims");
  dlrt_model* m = nullptr;
  EXPECT_NE(dlrt_model_load(path.c_str(), &m), DLRT_OK);
}

TEST_F(SizeLimits, InspectRefusesAnArenaOverTheLimit) {
  // Loading would allocate it: aligned_alloc of 2^62 bytes.
  proto::Executable exe = cpu_executable();
  exe.mutable_programs(0)->set_arena_bytes(int64_t{1} << 62);
  std::string path = write_unvalidated(exe, "big_arena.dlc");
  EXPECT_HAS(inspect_error(path), "the temp arena takes 4611686018427387904 bytes (4.0 EiB), over the limit");
}

TEST_F(SizeLimits, InspectRefusesAnEntryPointWithoutAProgram) {
  proto::Executable exe = cpu_executable();
  std::string entry = exe.programs(0).entry();
  exe.mutable_programs()->erase(exe.mutable_programs()->begin());
  std::string path = write_unvalidated(exe, "no_program.dlc");
  EXPECT_HAS(inspect_error(path), path + ": the cpu executable has no kernel program for entry point '" + entry + "'");
}

TEST_F(SizeLimits, InspectRefusesACudaExecutableWithoutCodeWithNoGpuInvolved) {
  proto::Executable exe = cpu_executable();
  exe.set_target("cuda");
  exe.clear_code();
  std::string path = write_unvalidated(exe, "no_code.dlc");
  EXPECT_HAS(inspect_error(path), path + ": the cuda executable has no code (neither cubin nor PTX)");
}

}  // namespace
}  // namespace dlc
