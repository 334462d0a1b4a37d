#include "runtime/fusion_verifier.h"

#include <cmath>
#include <sstream>
#include <vector>

#include "ir/error.h"
#include "runtime/ref_executor.h"
#include "reference/ref_interpreter.h"

namespace dlc {
namespace {

/// True when value i of `step` sits in a temp that a later value of the same
/// step overwrites (a GEMM result its epilogue rewrites in place): its bytes
/// no longer hold it when the step ends.
bool overwritten_later(const Program& p, const Step& step, size_t i) {
  const Buffer& a = p.buffers[static_cast<size_t>(step.values[i].second)];
  if (a.kind != BufferKind::temp) return false;
  for (size_t j = i + 1; j < step.values.size(); ++j) {
    const Buffer& b = p.buffers[static_cast<size_t>(step.values[j].second)];
    if (b.kind == BufferKind::temp && b.id != a.id && a.offset < b.offset + b.bytes() &&
        b.offset < a.offset + a.bytes())
      return true;
  }
  return false;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

/// "[r, c]" for flat index `i` of `dims`.
std::string element_index(const std::vector<int64_t>& dims, int64_t i) {
  std::vector<int64_t> idx(dims.size());
  for (size_t d = dims.size(); d-- > 0;) {
    idx[d] = dims[d] > 0 ? i % dims[d] : 0;
    i = dims[d] > 0 ? i / dims[d] : 0;
  }
  std::string out = "[";
  for (size_t d = 0; d < idx.size(); ++d) out += (d ? ", " : "") + std::to_string(idx[d]);
  return out + "]";
}

struct Worst {
  double error = 0;
  int64_t index = 0;
};

Worst worst_element(const Tensor& got, const Tensor& want) {
  Worst w;
  for (int64_t i = 0; i < got.numel(); ++i) {
    double e = element_error(got[i], want[i]);
    if (e > w.error || (std::isinf(e) && w.error != e)) w = {e, i};
  }
  return w;
}

}  // namespace

double element_error(double got, double want) {
  if (std::isnan(got) || std::isnan(want)) return std::isnan(got) && std::isnan(want) ? 0 : INFINITY;
  if (std::isinf(got) || std::isinf(want)) return got == want ? 0 : INFINITY;
  return std::fabs(got - want) / std::max(1.0, std::fabs(want));
}

FusionVerification verify_fusion(ObservableExecutor& executor, const Graph& graph, const std::string& entry,
                                 const std::map<std::string, HostTensor>& inputs, EvalContext ctx, double tolerance,
                                 std::map<std::string, HostTensor>* outputs) {
  const Program* program = executor.program(entry);
  if (!program) throw Error("--verify-fusion: entry point '" + entry + "' has no kernel program");

  // The reference sees the inputs and the state as it is before the run.
  std::map<std::string, Tensor> feeds;
  for (const auto& p : graph.params) feeds[p.name] = to_tensor(executor.get_state(p.name));
  for (const auto& [name, value] : inputs) feeds[name] = to_tensor(value);
  ctx.training = program->training;
  RefInterpreter reference(graph);

  FusionVerification v;
  v.entry = entry;
  executor.run_observed(entry, inputs, outputs, [&](int index, const BufferReader& read) {
    ++v.steps;
    if (v.diverged) return;  // report the first diverging step only
    const Step& step = program->steps[static_cast<size_t>(index)];
    // The reference computes this step's values from what the earlier steps
    // stored (fed below), so each kernel is checked on its own inputs: float32
    // drift upstream never flips a discrete choice (which element of a pooling
    // window is the max) and blames a correct kernel.
    std::vector<std::string> wanted;
    for (size_t i = 0; i < step.values.size(); ++i)
      if (!overwritten_later(*program, step, i)) wanted.push_back(step.values[i].first);
    std::map<std::string, Tensor> want = reference.run(feeds, wanted, ctx);
    for (size_t i = 0; i < step.values.size(); ++i) {
      const auto& [value, buffer] = step.values[i];
      if (overwritten_later(*program, step, i)) {
        ++v.values_skipped;
        continue;
      }
      Tensor got = to_tensor(read(buffer));
      feeds[value] = got;
      const Tensor& expected = want.at(value);
      Worst w = worst_element(got, expected);
      ++v.values_compared;
      if (w.error > v.worst_error || v.worst_value.empty()) {
        v.worst_error = w.error;
        v.worst_value = value;
      }
      if (!(w.error <= tolerance)) {
        v.diverged = true;
        std::ostringstream r;
        r.precision(9);
        r << "--verify-fusion: " << entry << " step " << index << " (" << step.kind_name()
          << " kernel holding " << join(step.nodes) << ") diverges from the reference interpreter:\n"
          << "  value '" << value << "' " << got.type.str() << ", worst element " << element_index(got.type.dims, w.index)
          << ": kernel " << got[w.index] << ", reference " << expected[w.index] << " (error " << w.error
          << " > tolerance " << tolerance << ")";
        v.report = r.str();
        return;
      }
    }
  });
  if (!v.diverged) {
    std::ostringstream r;
    r << "--verify-fusion: " << entry << ": " << v.steps << " steps, " << v.values_compared
      << " values match the reference interpreter (worst error " << v.worst_error;
    if (!v.worst_value.empty()) r << " in '" << v.worst_value << "'";
    r << ", tolerance " << tolerance << ")";
    v.report = r.str();
  }
  return v;
}

}  // namespace dlc
