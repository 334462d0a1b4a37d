// dlc compile --data-parallel, in one process: the all_reduce_gradients
// pass, the one collective step (bucket) it lowers to, the kernel IR's
// checks of it, and that a data-parallel executable run alone trains as the
// ordinary one does. The multi-process runs (mpirun) are
// tests/data_parallel/mpi_train_test.sh.
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "compiler/passes/all_reduce_gradients.h"
#include "compiler/pipeline.h"
#include "frontend/model_loader.h"
#include "ir/error.h"
#include "kernel/executable.h"
#include "kernel/kernel_ir.h"
#include "runtime/collectives/collective_engine.h"
#include "runtime/collectives/process_group.h"
#include "runtime/session.h"
#include "tests/test_util.h"

namespace dlc {
namespace {

constexpr int64_t kBatch = 16;

proto::Executable compile_mlp(bool data_parallel, const std::string& target = "cpu",
                              std::vector<Program>* programs = nullptr) {
  Model m = load_model(test::source_path("models/mlp_mnist.pbtxt"));
  CompileOptions opts;
  opts.target = target;
  opts.batch = kBatch;
  opts.seed = 5;
  opts.data_parallel = data_parallel;
  if (programs) opts.on_programs = [programs](const std::vector<Program>& p) { *programs = p; };
  return compile_model(m, opts);
}

int count_op(const proto::Graph& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.nodes()) n += node.op() == op;
  return n;
}

TEST(DataParallelCompile, AveragesEveryGradientAndTheLossInOneStep) {
  std::vector<Program> programs;
  proto::Executable exe = compile_mlp(true, "cpu", &programs);
  EXPECT_TRUE(exe.data_parallel());
  int trainable = 0;
  for (const auto& p : exe.graph().params()) trainable += !p.frozen();
  // One per trained parameter, and the loss.
  EXPECT_EQ(count_op(exe.graph(), "all_reduce_mean"), trainable + 1);
  ASSERT_EQ(programs.size(), 2u);
  for (const Program& p : programs) {
    int steps = 0;
    const AllReduceStep* bucket = nullptr;
    for (const Step& s : p.steps)
      if (s.all_reduce()) ++steps, bucket = s.all_reduce();
    if (p.entry == "predict") {
      EXPECT_EQ(steps, 0) << "predict needs no other process";
      continue;
    }
    ASSERT_EQ(steps, 1) << print_program(p);
    EXPECT_EQ(static_cast<int>(bucket->src.size()), trainable + 1);
    // Each gradient is averaged where it lies (no later step reads it); the
    // loss goes to the entry's output buffer.
    int in_place = 0;
    for (size_t k = 0; k < bucket->src.size(); ++k) in_place += bucket->src[k] == bucket->dst[k];
    EXPECT_EQ(in_place, trainable);
    // The loss comes back averaged under its own name, into the entry's output.
    int loss = p.find_buffer(BufferKind::output, exe.loss());
    ASSERT_GE(loss, 0);
    EXPECT_NE(std::find(bucket->dst.begin(), bucket->dst.end(), loss), bucket->dst.end());
    bool explained = false;
    for (const auto& line : p.explain) explained |= line.find("all_reduce_mean of") != std::string::npos;
    EXPECT_TRUE(explained);
  }
}

TEST(DataParallelCompile, WithoutTheFlagNothingChanges) {
  proto::Executable exe = compile_mlp(false);
  EXPECT_FALSE(exe.data_parallel());
  EXPECT_EQ(count_op(exe.graph(), "all_reduce_mean"), 0);
}

TEST(DataParallelCompile, ThePassRunsBeforeTheOptimizerOnly) {
  Model m = load_model(test::source_path("models/mlp_mnist.pbtxt"));
  CompileOptions opts;
  opts.batch = kBatch;
  opts.data_parallel = true;
  EXPECT_THROW(run_named_passes(m, {"all_reduce_gradients"}, opts), Error);  // no gradients yet
  try {
    run_named_passes(m, {"autodiff", "lower_optimizer", "all_reduce_gradients"}, opts);
    FAIL() << "ran after lower_optimizer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("before 'lower_optimizer'"), std::string::npos) << e.what();
  }
}

/// Feeds `s` one train_step on fixed data; returns the loss.
float train_once(Session& s, int64_t step) {
  std::mt19937 rng(static_cast<unsigned>(step));
  std::uniform_real_distribution<float> pixel(0, 1);
  std::map<std::string, HostTensor> in, out;
  HostTensor x(TensorType{DType::f32, {kBatch, 784}});
  for (int64_t i = 0; i < x.numel(); ++i) x.as<float>()[i] = pixel(rng);
  HostTensor y(TensorType{DType::i32, {kBatch}});
  for (int64_t i = 0; i < kBatch; ++i) y.as<int32_t>()[i] = static_cast<int32_t>((i * 7 + step) % 10);
  in["x"] = x;
  in["label"] = y;
  for (const auto& info : s.entry("train_step").inputs) {
    if (info.role == proto::LEARNING_RATE) in[info.name] = HostTensor::copy_of(info.type, std::array<float, 1>{1e-3f}.data());
    if (info.role == proto::STEP) {
      float v = static_cast<float>(step);
      in[info.name] = HostTensor::copy_of(info.type, &v);
    }
  }
  s.run("train_step", std::move(in), &out);
  return out.begin()->second.as<float>()[0];
}

TEST(DataParallelRun, AloneItTrainsBitForBitAsTheOrdinaryExecutable) {
  ASSERT_EQ(ProcessGroup::get().size(), 1);
  Session dp(compile_mlp(true), "dp.dlc"), plain(compile_mlp(false), "plain.dlc");
  for (int64_t step = 1; step <= 5; ++step) {
    float a = train_once(dp, step), b = train_once(plain, step);
    EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << "step " << step << ": " << a << " vs " << b;
  }
  for (const auto& p : plain.params()) {
    HostTensor a = dp.get_param(p.name), b = plain.get_param(p.name);
    EXPECT_EQ(a.bytes, b.bytes) << p.name;
  }
}

TEST(DataParallelRun, KernelsMatchTheInterpreter) {
  Session dp(compile_mlp(true), "dp.dlc");
  dp.verify_fusion(1e-4);  // every kernel, the all_reduce step included, against the float64 interpreter
  EXPECT_NO_THROW(train_once(dp, 1));
  ASSERT_FALSE(dp.fusion_reports().empty());
}

TEST(DataParallelRun, TheReferenceTargetTrainsToo) {
  Session dp(compile_mlp(true, "ref"), "dp.dlc"), plain(compile_mlp(false, "ref"), "plain.dlc");
  EXPECT_EQ(train_once(dp, 1), train_once(plain, 1));
}

TEST(KernelIrAllReduce, RoundTripsAndIsChecked) {
  std::vector<Program> programs;
  compile_mlp(true, "cpu", &programs);
  const Program& p = programs.at(1);
  ASSERT_EQ(p.entry, "train_step");
  EXPECT_EQ(print_program(program_from_proto(program_to_proto(p))), print_program(p));
  size_t at = 0;
  while (!p.steps[at].all_reduce()) ++at;
  auto broken = [&](auto edit) {
    Program q = p;
    edit(std::get<AllReduceStep>(q.steps[at].body));
    return q;
  };
  EXPECT_THROW(check_program(broken([](AllReduceStep& r) { r.dst.pop_back(); })), Error);
  EXPECT_THROW(check_program(broken([](AllReduceStep& r) { r.dst[0] = r.src[1]; })), Error);
  EXPECT_THROW(check_program(broken([](AllReduceStep& r) { r.dst[1] = r.dst[0]; })), Error);
  EXPECT_THROW(check_program(broken([](AllReduceStep& r) { r.src[0] = 100000; })), Error);
  // A source of another size than its destination.
  EXPECT_THROW(check_program(broken([](AllReduceStep& r) { std::swap(r.src[0], r.src[1]); })), Error);
}

TEST(ProcessGroupTest, LaunchCountAndSeeds) {
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  ::unsetenv("PMI_SIZE");
  EXPECT_EQ(launched_process_count(), 1);
  ::setenv("PMI_SIZE", "3", 1);
  EXPECT_EQ(launched_process_count(), 3);
  ::setenv("OMPI_COMM_WORLD_SIZE", "x2", 1);
  EXPECT_EQ(launched_process_count(), -1);
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  ::unsetenv("PMI_SIZE");
  EXPECT_EQ(process_seed(42, 0), 42u);
  EXPECT_NE(process_seed(42, 1), 42u);
  EXPECT_NE(process_seed(42, 1), process_seed(42, 2));
}

TEST(ProcessGroupTest, AloneEveryCollectiveIsACopy) {
  ProcessGroup& g = ProcessGroup::get();
  EXPECT_EQ(g.rank(), 0);
  EXPECT_EQ(g.size(), 1);
  std::vector<float> v = {1.5f, -2.0f, 3.25f};
  g.all_reduce_mean(v.data(), 3);
  EXPECT_EQ(v, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  std::vector<float> all(3);
  g.all_gather(v.data(), 12, all.data());
  EXPECT_EQ(all, v);
}

/// Loads an engine with every symbol bound now (RTLD_NOW): each MPI, NCCL
/// and C++ runtime symbol it uses resolves on this machine, GPU or not.
void expect_engine_loads(const char* path) {
  void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << dlerror();
  EXPECT_NE(dlsym(lib, DLRT_COLLECTIVE_ENGINE_OPEN), nullptr) << path;
  // Not closed: MPI installs handlers that must stay mapped until exit.
}

#ifdef DLC_MPI_ENGINE_FILE
TEST(CollectiveEngines, TheMpiEngineResolvesEverySymbol) { expect_engine_loads(DLC_MPI_ENGINE_FILE); }
#endif
#ifdef DLC_NCCL_ENGINE_FILE
TEST(CollectiveEngines, TheNcclEngineResolvesEverySymbol) { expect_engine_loads(DLC_NCCL_ENGINE_FILE); }
#endif

}  // namespace
}  // namespace dlc
