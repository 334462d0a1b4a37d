// `dlrun bench MODEL.dlc`: times entry points on one bound batch of data,
// for benchmarks (bench/cpu_mlp) and for checking a change's speed.
//
// Timing goes through the C API like every other command. Only --profile
// reaches past it: it builds a second cpu executor from the file to time
// each step of a kernel program (ObservableExecutor), and reads the C API
// session's executor for the span of each call's kernels; the C API
// exposes neither.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dlrt.hpp"
#include "ir/error.h"
#include "runtime/cpu_executor.h"
#include "runtime/dlrt_model.h"
#include "kernel/executable.h"
#include "runtime/npy.h"
#include "runtime/thread_pool.h"
#include "runtime/tool/commands.h"
#include "runtime/training/supervised_model.h"

namespace dlc {
namespace {

constexpr const char* kUsage =
    "usage: dlrun bench MODEL.dlc [options]\n"
    "\n"
    "Times MODEL's entry points on one batch of the bound batch size: --warmup\n"
    "untimed calls, then --steps timed calls, each timed on its own. Prints the\n"
    "median, mean, min and max milliseconds per call, samples per second at\n"
    "the median, and the process's peak resident memory. train_step is fed\n"
    "the same batch every call with step numbers 1, 2, 3, ... (so Adam's bias\n"
    "correction runs as in training) and updates the weights as usual.\n"
    "Data is random (DATA inputs uniform in [0,1), integer labels uniform over\n"
    "the classes) unless --input gives it.\n"
    "\n"
    "options:\n"
    "  --entry NAME          train_step or predict; repeat for both (default: each\n"
    "                        of the two the model has)\n"
    "  --steps N             timed calls per entry point (default 100)\n"
    "  --warmup N            untimed calls first (default 10)\n"
    "  --threads N           worker threads (default: DLC_NUM_THREADS, else every core)\n"
    "  --input [NAME=]FILE   rows for input NAME from an .npy file, repeated to fill\n"
    "                        the batch; the name may be left out for the DATA input\n"
    "  --seed N              seed of the random data (default 1)\n"
    "  --lr X                learning rate fed to train_step (default: the model's)\n"
    "  --save-initial FILE   write the persistent tensors as loaded, before any call,\n"
    "                        as a safetensors checkpoint (the same initial weights\n"
    "                        for other frameworks)\n"
    "  --profile             also time every step of the kernel programs (cpu target)\n"
    "  --json                print one JSON object instead of the table\n";

struct Options {
  std::string model, save_initial;
  std::vector<std::string> entries;
  std::vector<Binding> inputs;
  int64_t steps = 100, warmup = 10, threads = 0;
  uint64_t seed = 1;
  bool has_lr = false, profile = false, json = false;
  double lr = 0;
};

/// Parses the command line; returns 0 to go on, -1 after --help, or 2.
int parse_options(int argc, char** argv, Options* o) {
  std::vector<Argument> args;
  if (int status = split_arguments(argc, argv,
                                   {"--entry", "--steps", "--warmup", "--threads", "--input", "--seed", "--lr",
                                    "--save-initial"},
                                   "bench", kUsage, &args))
    return status;
  try {  // a bad number is a usage error
    for (const Argument& a : args) {
      const std::string &flag = a.flag, &value = a.value;
      if (flag == "--entry") {
        if (value != "train_step" && value != "predict")
          return usage_error("bench", "--entry takes train_step or predict, not '" + value + "'", "");
        if (std::find(o->entries.begin(), o->entries.end(), value) == o->entries.end()) o->entries.push_back(value);
      } else if (flag == "--steps") o->steps = parse_int_option(flag, value, 1);
      else if (flag == "--warmup") o->warmup = parse_int_option(flag, value, 0);
      else if (flag == "--threads") o->threads = parse_int_option(flag, value, 1, ThreadPool::kMaxThreads);
      else if (flag == "--seed") o->seed = parse_seed_option(flag, value);
      else if (flag == "--lr") o->lr = parse_real_option(flag, value, RealRange::positive()), o->has_lr = true;
      else if (flag == "--save-initial") o->save_initial = value;
      else if (flag == "--input") o->inputs.push_back(parse_binding(value));
      else if (flag == "--profile") o->profile = true;
      else if (flag == "--json") o->json = true;
      else if (a.is_option() || !o->model.empty()) return unexpected_argument("bench", a, kUsage);
      else o->model = a.text;
    }
  } catch (const Error& e) {
    return usage_error("bench", e.what(), "");
  }
  const char* problem = nullptr;
  if (o->model.empty()) problem = "needs MODEL.dlc";
  if (problem) return usage_error("bench", problem, kUsage);
  return 0;
}

/// splitmix64: random data that is the same on every platform.
struct Random {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

/// Classes a label picks from: the per-row width of predict's first output
/// (2 for a single probability), or 2 without predict.
int64_t class_count(const dlrt::Model& m) {
  if (!m.has_entry("predict")) return 2;
  auto outs = m.entry_outputs("predict");
  if (outs.empty() || m.batch() <= 0) return 2;
  int64_t per_row = outs[0].numel / m.batch();
  return per_row > 1 ? per_row : 2;
}

/// One graph input's buffer, filled once and fed to every call.
struct Feed {
  dlrt::TensorInfo info;
  std::vector<uint8_t> bytes;
};

/// Fills `f` with rows of `file`, repeated until the buffer is full.
void fill_from_file(Feed& f, const std::string& file, int64_t batch) {
  HostTensor t = read_npy(file);
  const bool rows_lead = !f.info.dims.empty() && f.info.dims[0] == batch;
  const int64_t per_row = rows_lead ? f.info.numel / batch : f.info.numel;
  const int64_t have = t.numel();
  if (per_row == 0)
    throw Error("input '" + f.info.name + "' " + f.info.type_str() + " holds no values to fill from " + file);
  if (have == 0 || have % per_row != 0)
    throw Error(file + ": " + std::to_string(have) + " values, not whole rows of " + std::to_string(per_row) +
                " for input '" + f.info.name + "' " + f.info.type_str());
  for (int64_t i = 0; i < f.info.numel; ++i) store_element(f.info.dtype, f.bytes.data(), i, t.get(i % have));
}

/// Random values for an input by its role.
void fill_random(Feed& f, Random& rng, int64_t classes, const std::vector<dlrt::TensorInfo>& predict_outputs) {
  const auto& in = f.info;
  const bool integer = in.dtype == DLRT_I32 || in.dtype == DLRT_I64;
  if (in.role == DLRT_ROLE_LABEL && integer) {
    for (int64_t i = 0; i < in.numel; ++i)
      store_element(in.dtype, f.bytes.data(), i, static_cast<double>(rng.next() % classes));
  } else if (in.role == DLRT_ROLE_LABEL && !predict_outputs.empty() && predict_outputs[0].numel == in.numel &&
             classes > 2) {
    // Labels shaped like the probabilities: one-hot rows.
    for (int64_t r = 0; r < in.numel / classes; ++r)
      store_element(in.dtype, f.bytes.data(), r * classes + static_cast<int64_t>(rng.next() % classes), 1);
  } else if (in.dtype == DLRT_BOOL) {
    for (int64_t i = 0; i < in.numel; ++i) store_element(in.dtype, f.bytes.data(), i, static_cast<double>(rng.next() & 1));
  } else {
    for (int64_t i = 0; i < in.numel; ++i) store_element(in.dtype, f.bytes.data(), i, rng.uniform());
  }
}

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n == 0 ? NAN : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Timing {
  std::string entry;
  std::vector<double> ms;  // one per timed call
  double median = 0, mean = 0, min = 0, max = 0;
  double last_loss = NAN;  // train_step: the loss of the last call

  void summarize() {
    median = median_of(ms);
    min = *std::min_element(ms.begin(), ms.end());
    max = *std::max_element(ms.begin(), ms.end());
    mean = 0;
    for (double v : ms) mean += v;
    mean /= static_cast<double>(ms.size());
  }
};

/// Inputs and outputs of one entry point, bound to the feeds.
struct Call {
  std::vector<dlrt_input> inputs;
  std::vector<dlrt_output> outputs;
  std::vector<std::string> out_names;  // what outputs[k].name points into
  std::vector<std::vector<uint8_t>> out_bytes;
  float* step = nullptr;  // the STEP input's value, bumped before every call
  double* step64 = nullptr;
};

/// The scalar STEP and LEARNING_RATE inputs hold one value each; they are
/// fed like any other input and `step` is bumped before every call.
Call bind_call(const dlrt::Model& m, const std::string& entry, std::map<std::string, Feed>& feeds) {
  Call c;  // moving it moves its vectors' storage, so the pointers into them stay valid
  for (const auto& in : m.entry_inputs(entry)) {
    Feed& f = feeds.at(in.name);
    c.inputs.push_back({f.info.name.c_str(), f.info.dtype, f.bytes.data(), f.info.numel});
    if (f.info.role == DLRT_ROLE_STEP) {
      if (f.info.dtype == DLRT_F32) c.step = reinterpret_cast<float*>(f.bytes.data());
      else if (f.info.dtype == DLRT_F64) c.step64 = reinterpret_cast<double*>(f.bytes.data());
    }
  }
  // train_step: only the loss, as a training loop reads it; predict: everything.
  auto outs = m.entry_outputs(entry);
  if (entry == "train_step" && outs.size() > 1) outs.erase(outs.begin() + 1, outs.end());
  // Both vectors are complete before any pointer into them is taken.
  for (const auto& o : outs) {
    c.out_names.push_back(o.name);
    c.out_bytes.emplace_back(static_cast<size_t>(o.numel) * dlrt_dtype_size(o.dtype));
  }
  for (size_t k = 0; k < outs.size(); ++k)
    c.outputs.push_back({c.out_names[k].c_str(), outs[k].dtype, c.out_bytes[k].data(), outs[k].numel});
  return c;
}

void next_step(Call& c, int64_t step) {
  if (c.step) *c.step = static_cast<float>(step);
  if (c.step64) *c.step64 = static_cast<double>(step);
}

double first_value(const Call& c) {
  if (c.outputs.empty()) return NAN;
  const auto& o = c.outputs[0];
  if (o.dtype == DLRT_F32) return static_cast<const float*>(o.data)[0];
  if (o.dtype == DLRT_F64) return static_cast<const double*>(o.data)[0];
  return NAN;
}

Timing time_entry(dlrt::Model& m, const std::string& entry, std::map<std::string, Feed>& feeds, const Options& opt) {
  Call c = bind_call(m, entry, feeds);
  Timing t;
  t.entry = entry;
  int64_t step = 0;
  for (int64_t i = 0; i < opt.warmup; ++i) {
    next_step(c, ++step);
    m.run(entry, c.inputs, c.outputs);
  }
  for (int64_t i = 0; i < opt.steps; ++i) {
    next_step(c, ++step);
    auto start = Clock::now();
    m.run(entry, c.inputs, c.outputs);
    t.ms.push_back(ms_since(start));
  }
  if (entry == "train_step") {
    t.last_loss = first_value(c);
    if (!std::isfinite(t.last_loss))
      throw Error(opt.model + ": train_step's loss became " + std::to_string(t.last_loss) + " while benchmarking");
  }
  t.summarize();
  return t;
}

/// Mean milliseconds of each step of a kernel program.
struct StepTime {
  std::string entry, label;
  double ms = 0;
};

std::string step_label(const Step& s) {
  std::string label = s.kind_name();
  if (const GemmCall* g = s.gemm()) {
    label += " " + std::to_string(g->m) + "x" + std::to_string(g->n) + "x" + std::to_string(g->k);
    if (g->a.trans) label += " A'";
    if (g->b.trans) label += " B'";
    if (g->has_epilogue()) label += " +epilogue";
  }
  if (const ConvCall* c = s.conv()) {
    const ConvGeometry& g = c->geometry;
    label += std::string(" ") + conv_pass_name(c->pass) + " " + std::to_string(g.batch) + "x" +
             std::to_string(g.channels) + "x" + std::to_string(g.image[0]) + "x" + std::to_string(g.image[1]) + " -> " +
             std::to_string(g.filters) + " " + std::to_string(g.kernel[0]) + "x" + std::to_string(g.kernel[1]);
    if (c->generated) label += " generated";
  }
  std::string nodes;
  for (const auto& n : s.nodes) nodes += (nodes.empty() ? "" : ",") + n;
  if (nodes.size() > 60) nodes = nodes.substr(0, 57) + "...";
  return label + (nodes.empty() ? "" : " [" + nodes + "]");
}

/// A profile of one entry point: each step's mean time, and what a call
/// through the C API costs beyond its kernels.
struct Profile {
  std::vector<StepTime> steps;
  int64_t calls = 0;
  double call_ms = 0;     // median of the C API calls
  double kernels_ms = 0;  // median of those calls' kernel spans
  double outside_us = 0;  // median over calls of (call - its own kernel span), each after a pause
  double outside_warm_us = 0;  // the same over calls back to back
};

/// Times each step through a second executor built from the file, its calls
/// alternating with calls through the C API, each after a pause longer than
/// the thread pools' spin budget, so that neither competes with the other's
/// spinning workers and both start alike. A C API call's time outside the
/// kernels (the C API's checks, binding, copies) is its own time less the
/// span of its own kernels, which its executor records
/// (ObservableExecutor::last_kernel_span_ms): one call, no pairing of two
/// calls whose kernels vary by more than the overhead. The median over the
/// calls is reported, and the median over as many calls back to back (a
/// training or serving loop's case: the C API's code and data still in
/// cache, the pool's workers still spinning). Step 0's time includes
/// binding the inputs of the observed call; copying its outputs out is not
/// counted.
Profile profile_entry(dlrt::Model& m, const Options& opt, const std::string& entry, std::map<std::string, Feed>& feeds,
                      int threads) {
  proto::Executable exe = load_executable(opt.model);
  if (exe.target() != "cpu") throw Error(opt.model + ": --profile needs a cpu-target executable, not " + exe.target());
  std::unique_ptr<Executor> ex = make_cpu_executor(exe, threads);
  auto* obs = dynamic_cast<ObservableExecutor*>(ex.get());
  const Program* p = obs ? obs->program(entry) : nullptr;
  if (!p) throw Error(opt.model + ": no kernel program for " + entry + " to profile");

  std::map<std::string, HostTensor> inputs;
  HostTensor* step_input = nullptr;
  const proto::EntryPoint* ep = find_entry_point(exe, entry);
  for (const auto& name : ep->inputs()) {
    const Feed& f = feeds.at(name);
    HostTensor h(TensorType{from_proto(static_cast<proto::DType>(f.info.dtype)), f.info.dims});
    h.bytes = f.bytes;
    inputs[name] = std::move(h);
    if (f.info.role == DLRT_ROLE_STEP) step_input = &inputs[name];
  }
  Call c = bind_call(m, entry, feeds);
  const Session& session = *m.get()->session;  // the C API's own
  std::vector<double> sum(p->steps.size(), 0.0);
  std::map<std::string, HostTensor> outputs;
  Clock::time_point last;
  auto observer = [&](int i, const BufferReader&) {
    auto now = Clock::now();
    double ms = std::chrono::duration<double, std::milli>(now - last).count();
    sum[static_cast<size_t>(i)] += ms;
    last = Clock::now();  // the observer's own time is not charged to the next step
  };
  // Longer than ThreadPool's spin budget (200 us): both pools' workers sleep.
  auto pause = [] { std::this_thread::sleep_for(std::chrono::milliseconds(1)); };
  // One call through the C API: its time and its own kernels' span (ms).
  struct ApiCall {
    double ms, span_ms;
  };
  auto api_call = [&](int64_t step) {
    next_step(c, step);
    auto start = Clock::now();
    m.run(entry, c.inputs, c.outputs);
    ApiCall r{ms_since(start), session.last_kernel_span_ms()};
    if (r.span_ms < 0) throw Error(opt.model + ": " + entry + " did not run on the C API's bound path");
    return r;
  };
  std::vector<double> calls, kernels, outside, warm;
  const int64_t n = opt.warmup + opt.steps;
  for (int64_t i = 0; i < n; ++i) {
    if (i == opt.warmup) std::fill(sum.begin(), sum.end(), 0.0);
    pause();
    const ApiCall call = api_call(i + 1);

    if (step_input) step_input->set(0, static_cast<double>(i + 1));
    pause();
    last = Clock::now();
    obs->run_observed(entry, inputs, &outputs, observer);
    if (i < opt.warmup) continue;
    calls.push_back(call.ms);
    kernels.push_back(call.span_ms);
    outside.push_back((call.ms - call.span_ms) * 1e3);
  }
  for (int64_t i = 0; i < n; ++i) {  // back to back
    const ApiCall call = api_call(n + i + 1);
    if (i >= opt.warmup) warm.push_back((call.ms - call.span_ms) * 1e3);
  }
  Profile out;
  for (size_t i = 0; i < p->steps.size(); ++i)
    out.steps.push_back({entry, step_label(p->steps[i]), sum[i] / static_cast<double>(opt.steps)});
  out.calls = opt.steps;
  out.call_ms = median_of(calls);
  out.kernels_ms = median_of(kernels);
  out.outside_us = median_of(outside);
  out.outside_warm_us = median_of(warm);
  return out;
}

int64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;  // Linux reports KiB
}

std::string num(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    out += ch;
  }
  return out + "\"";
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  Options opt;
  if (int status = parse_options(argc, argv, &opt); status != 0) return status < 0 ? 0 : status;
  // The runtime reads its thread count when the model is loaded.
  if (opt.threads > 0) setenv("DLC_NUM_THREADS", std::to_string(opt.threads).c_str(), 1);
  const int threads = opt.threads > 0 ? static_cast<int>(opt.threads) : ThreadPool::default_threads();

  auto load_start = Clock::now();
  dlrt::Model m(opt.model);
  const double load_ms = ms_since(load_start);
  const int64_t batch = m.batch();
  if (!opt.save_initial.empty()) m.save_checkpoint(opt.save_initial, {{"source", opt.model}});

  std::vector<std::string> entries = opt.entries;
  if (entries.empty()) {
    for (const char* e : {"train_step", "predict"})
      if (m.has_entry(e)) entries.push_back(e);
    if (entries.empty()) throw Error(opt.model + ": the executable has neither train_step nor predict");
  }
  for (const auto& e : entries)
    if (!m.has_entry(e)) throw Error(opt.model + ": the executable has no " + e + " entry point");

  // One buffer per graph input, filled once.
  std::map<std::string, Feed> feeds;
  Random rng{opt.seed};
  const int64_t classes = class_count(m);
  const auto predict_outputs = m.has_entry("predict") ? m.entry_outputs("predict") : std::vector<dlrt::TensorInfo>{};
  std::string data_input;
  for (const auto& in : m.inputs()) {
    Feed f{in, std::vector<uint8_t>(static_cast<size_t>(in.numel) * dlrt_dtype_size(in.dtype))};
    if (in.role == DLRT_ROLE_LEARNING_RATE)
      store_element(in.dtype, f.bytes.data(), 0, opt.has_lr ? opt.lr : m.default_learning_rate());
    else if (in.role != DLRT_ROLE_STEP) fill_random(f, rng, classes, predict_outputs);
    if (in.role == DLRT_ROLE_DATA && data_input.empty()) data_input = in.name;
    feeds.emplace(in.name, std::move(f));
  }
  for (const auto& [name, file] : opt.inputs) {
    std::string target = name.empty() ? data_input : name;
    if (target.empty()) throw Error(opt.model + ": no DATA input for --input " + file + "; name it with NAME=FILE");
    auto it = feeds.find(target);
    if (it == feeds.end()) throw Error(opt.model + ": the model has no input '" + target + "'");
    fill_from_file(it->second, file, batch);
  }

  std::vector<Timing> timings;
  for (const auto& e : entries) timings.push_back(time_entry(m, e, feeds, opt));
  std::vector<Profile> profiles;
  if (opt.profile)
    for (const auto& e : entries) profiles.push_back(profile_entry(m, opt, e, feeds, threads));
  const int64_t rss = peak_rss_bytes();

  if (opt.json) {
    std::string s = "{\"model\":" + json_string(opt.model) + ",\"target\":" + json_string(m.target()) +
                    ",\"batch\":" + std::to_string(batch) + ",\"threads\":" + std::to_string(threads) +
                    ",\"load_ms\":" + num(load_ms) + ",\"peak_rss_bytes\":" + std::to_string(rss) + ",\"entries\":[";
    for (size_t k = 0; k < timings.size(); ++k) {
      const Timing& t = timings[k];
      s += std::string(k ? "," : "") + "{\"entry\":" + json_string(t.entry) + ",\"steps\":" +
           std::to_string(t.ms.size()) + ",\"warmup\":" + std::to_string(opt.warmup) + ",\"median_ms\":" +
           num(t.median) + ",\"mean_ms\":" + num(t.mean) + ",\"min_ms\":" + num(t.min) + ",\"max_ms\":" +
           num(t.max) + ",\"samples_per_s\":" + num(static_cast<double>(batch) / (t.median / 1000)) +
           (t.entry == "train_step" ? ",\"last_loss\":" + num(t.last_loss) : "") + "}";
    }
    s += "]";
    if (opt.profile) {
      s += ",\"profile\":[";
      bool first = true;
      for (const Profile& p : profiles)
        for (const StepTime& st : p.steps) {
          s += std::string(first ? "" : ",") + "{\"entry\":" + json_string(st.entry) + ",\"step\":" +
               json_string(st.label) + ",\"mean_ms\":" + num(st.ms) + "}";
          first = false;
        }
      s += "],\"outside_kernels\":[";
      for (size_t k = 0; k < profiles.size(); ++k) {
        const Profile& p = profiles[k];
        s += std::string(k ? "," : "") + "{\"entry\":" + json_string(entries[k]) + ",\"calls\":" +
             std::to_string(p.calls) + ",\"call_median_ms\":" + num(p.call_ms) + ",\"kernels_median_ms\":" +
             num(p.kernels_ms) + ",\"outside_median_us\":" + num(p.outside_us) +
             ",\"outside_warm_median_us\":" + num(p.outside_warm_us) + "}";
      }
      s += "]";
    }
    std::printf("%s}\n", s.c_str());
    return 0;
  }

  std::printf("%s: target %s, batch %lld, %d threads, loaded in %.1f ms\n", opt.model.c_str(), m.target().c_str(),
              static_cast<long long>(batch), threads, load_ms);
  std::printf("  %-11s %7s %10s %10s %10s %10s %14s\n", "entry", "calls", "median ms", "mean ms", "min ms", "max ms",
              "samples/s");
  for (const auto& t : timings)
    std::printf("  %-11s %7zu %10.4f %10.4f %10.4f %10.4f %14.0f\n", t.entry.c_str(), t.ms.size(), t.median, t.mean,
                t.min, t.max, static_cast<double>(batch) / (t.median / 1000));
  if (opt.profile) {
    std::printf("per step (mean ms over %lld calls, each after a 1 ms pause; step 0 includes binding the inputs):\n",
                static_cast<long long>(opt.steps));
    for (size_t k = 0; k < profiles.size(); ++k) {
      const Profile& p = profiles[k];
      std::printf("  %s\n", entries[k].c_str());
      double total = 0;
      for (const StepTime& st : p.steps) {
        std::printf("    %9.4f  %s\n", st.ms, st.label.c_str());
        total += st.ms;
      }
      // What the steps leave out of a call: the C API's checks, and copies of buffers it cannot bind in place.
      std::printf("    total %.4f ms; %lld calls through the C API: %.4f ms, their kernels %.4f ms "
                  "(medians); outside the kernels %.1f us (median of each call's time less its kernels' span), "
                  "%.1f us back to back\n",
                  total, static_cast<long long>(p.calls), p.call_ms, p.kernels_ms, p.outside_us, p.outside_warm_us);
    }
  }
  std::printf("peak RSS: %.1f MiB\n", static_cast<double>(rss) / (1024.0 * 1024.0));
  return 0;
}

}  // namespace dlc
