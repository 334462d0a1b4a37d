#include "kernel/executable.h"

#include <zlib.h>

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "ir/error.h"
#include "ir/label_dependence.h"
#include "ir/verifier.h"
#include "kernel/kernel_ir.h"
#include "ir/file_io.h"
#include "ir/proto_bytes.h"

namespace dlc {
namespace {

/// Matches the verifier's bound: larger counts are corruption, not a model.
constexpr int64_t kMaxElements = int64_t{1} << 40;

bool known_dtype(int d) { return d >= proto::F32 && d <= proto::BOOL; }

std::string join_lines(const std::string& source, const std::vector<std::string>& faults) {
  std::string text;
  for (const auto& f : faults) {
    if (!text.empty()) text += "\n";
    // verify_graph already prefixes its lines with the source.
    text += f.rfind(source + ":", 0) == 0 ? f : source + ": " + f;
  }
  return text;
}

std::string quoted_type(const proto::TensorType& t) { return from_proto(t).str(); }

/// Collects the faults of one executable; each check appends to `faults`.
class Validator {
 public:
  Validator(const proto::Executable& exe, const std::string& source) : exe_(exe), source_(source) {}

  std::vector<std::string> run() {
    check_header();
    if (!check_declared_types()) return faults_;
    graph_ = graph_from_proto(exe_.graph());
    auto graph_faults = verify_graph(graph_, source_);
    if (!graph_faults.empty()) {
      faults_.insert(faults_.end(), graph_faults.begin(), graph_faults.end());
      return faults_;
    }
    for (const auto& [name, type] : graph_.types)
      if (type.has_batch()) faults_.push_back("value '" + name + "' " + type.str() + " still has the batch dimension");
    for (const auto& out : graph_.outputs)
      if (!graph_.types.count(out)) faults_.push_back("graph output '" + out + "' is not a value of the graph");
    check_entry_points();
    check_programs();
    check_initial_params();
    if (!exe_.loss().empty() && !graph_.types.count(exe_.loss()))
      faults_.push_back("loss '" + exe_.loss() + "' is not a value of the graph");
    return faults_;
  }

 private:
  void check_header() {
    if (exe_.format_version() != kFormatVersion) {
      std::string why = "format version " + std::to_string(exe_.format_version()) + ", but this runtime reads version " +
                        std::to_string(kFormatVersion);
      if (exe_.format_version() == 0) why = "not a dlc executable (no format version); " + why;
      faults_.push_back(why);
    }
    const std::string& t = exe_.target();
    if (t != "ref" && t != "cpu" && t != "cuda") faults_.push_back("unknown target '" + t + "' (expected ref, cpu or cuda)");
    if (exe_.batch() < 1) faults_.push_back("batch size " + std::to_string(exe_.batch()) + " is not positive");
    double lr = exe_.default_learning_rate();
    if (!std::isfinite(lr) || lr < 0)
      faults_.push_back("default learning rate " + std::to_string(lr) + " is not a finite non-negative number");
    for (const auto& p : exe_.programs())
      if (!find_entry_point(exe_, p.entry()))
        faults_.push_back("kernel program for '" + p.entry() + "' has no matching entry point");
  }

  /// Types are checked before the verifier sees the graph: it reads dtypes
  /// through a conversion that maps unknown values to f32.
  bool check_declared_types() {
    size_t before = faults_.size();
    for (const auto& i : exe_.graph().inputs())
      if (auto bad = check_bound_type(i.type()); !bad.empty()) faults_.push_back("input '" + i.name() + "': " + bad);
    for (const auto& p : exe_.graph().params())
      if (auto bad = check_bound_type(p.type()); !bad.empty()) faults_.push_back("parameter '" + p.name() + "': " + bad);
    for (const auto& i : exe_.graph().inputs())
      if (i.role() < proto::DATA || i.role() > proto::STEP)
        faults_.push_back("input '" + i.name() + "' has unknown role " + std::to_string(i.role()));
    return faults_.size() == before;
  }

  bool has_value(const std::string& v) const { return graph_.types.count(v) != 0; }

  void check_entry_points() {
    if (exe_.entry_points().empty()) faults_.push_back("no entry points");
    std::set<std::string> names;
    for (const auto& e : exe_.entry_points()) {
      std::string where = "entry point '" + e.name() + "'";
      if (e.name().empty()) faults_.push_back("an entry point has an empty name");
      if (!names.insert(e.name()).second) faults_.push_back(where + " is defined twice");
      std::set<std::string> inputs;
      for (const auto& in : e.inputs()) {
        if (!graph_.find_input(in)) faults_.push_back(where + ": input '" + in + "' is not an input of the graph");
        if (!inputs.insert(in).second) faults_.push_back(where + ": input '" + in + "' is listed twice");
      }
      std::set<std::string> outputs;
      std::vector<std::string> wanted;
      for (const auto& out : e.outputs()) {
        if (!has_value(out)) faults_.push_back(where + ": output '" + out + "' is not a value of the graph");
        else wanted.push_back(out);
        if (!outputs.insert(out).second) faults_.push_back(where + ": output '" + out + "' is listed twice");
      }
      std::set<std::string> updated;
      for (const auto& u : e.updates()) {
        const Parameter* p = graph_.find_param(u.param());
        if (!p) {
          faults_.push_back(where + ": update of '" + u.param() + "', which is not a parameter");
          continue;
        }
        if (!updated.insert(u.param()).second) faults_.push_back(where + ": parameter '" + u.param() + "' is updated twice");
        if (!has_value(u.value())) {
          faults_.push_back(where + ": update of '" + u.param() + "' from '" + u.value() + "', which is not a value of the graph");
          continue;
        }
        const TensorType& vt = graph_.type_of(u.value());
        if (vt != p->type)
          faults_.push_back(where + ": update of '" + u.param() + "' " + p->type.str() + " from '" + u.value() + "' " +
                            vt.str() + ": types differ");
        wanted.push_back(u.value());
      }
      for (const auto& need : inputs_needed(graph_, wanted))
        if (!inputs.count(need))
          faults_.push_back(where + " needs input '" + need + "' but does not list it");
    }
  }

  /// The kernel programs and native code as the cpu and cuda executors read
  /// them (program_from_proto checks every index, size and expression), so
  /// that `dlrun info` and the C API's inspect refuse what loading to run
  /// refuses, without making an executor or needing a GPU. The one check
  /// left to the executors needs the code loaded: that it was generated from
  /// these programs (the fingerprint).
  void check_programs() {
    std::set<std::string> have_program;
    for (const auto& p : exe_.programs()) {
      have_program.insert(p.entry());
      try {
        program_from_proto(p);
      } catch (const Error& e) {
        faults_.push_back("kernel program for '" + p.entry() + "': " + e.what());
      }
    }
    const std::string& target = exe_.target();
    if (target != "cpu" && target != "cuda") return;  // ref runs the graph
    for (const auto& e : exe_.entry_points())
      if (!have_program.count(e.name()))
        faults_.push_back("the " + target + " executable has no kernel program for entry point '" + e.name() + "'");
    if (target == "cpu" && exe_.code().empty()) faults_.push_back("the cpu executable has no code");
    if (target == "cuda") {
      if (exe_.code().empty() && exe_.ptx().empty())
        faults_.push_back("the cuda executable has no code (neither cubin nor PTX)");
      for (int i = 0; i < exe_.more_modules_size(); ++i)
        if (exe_.more_modules(i).code().empty() && exe_.more_modules(i).ptx().empty())
          faults_.push_back("the cuda executable's module " + std::to_string(i + 1) + " has no code (neither cubin nor PTX)");
    }
  }

  void check_initial_params() {
    std::set<std::string> given;
    for (const auto& t : exe_.initial_params()) {
      std::string where = "initial value of '" + t.name() + "'";
      const Parameter* p = graph_.find_param(t.name());
      if (!p) {
        faults_.push_back(where + ": not a parameter of the graph");
        continue;
      }
      if (!given.insert(t.name()).second) faults_.push_back(where + " is given twice");
      if (auto bad = check_bound_type(t.type()); !bad.empty()) {
        faults_.push_back(where + ": " + bad);
        continue;
      }
      TensorType type = from_proto(t.type());
      if (type != p->type) {
        faults_.push_back(where + " has type " + type.str() + ", but the parameter is " + p->type.str());
        continue;
      }
      uint64_t want = static_cast<uint64_t>(type.numel() * dtype_size(type.dtype));
      if (t.data().size() != want)
        faults_.push_back(where + " holds " + std::to_string(t.data().size()) + " bytes, but " + type.str() + " needs " +
                          std::to_string(want));
    }
    for (const auto& p : graph_.params)
      if (!given.count(p.name)) faults_.push_back("parameter '" + p.name + "' has no initial value");
  }

  const proto::Executable& exe_;
  const std::string& source_;
  Graph graph_;
  std::vector<std::string> faults_;
};

}  // namespace

std::string check_bound_type(const proto::TensorType& t) {
  if (!known_dtype(t.dtype())) return "unknown dtype " + std::to_string(t.dtype());
  int64_t elements = 1;
  for (int i = 0; i < t.dims_size(); ++i) {
    int64_t d = t.dims(i);
    if (d == kBatch) return quoted_type(t) + " still has the batch dimension";
    if (d <= 0) return "dimension " + std::to_string(i) + " is " + std::to_string(d) + "; dimensions must be positive";
    if (elements > kMaxElements / d) return "more than 2^40 elements";
    elements *= d;
  }
  return "";
}

void validate_executable(const proto::Executable& exe, const std::string& source) {
  auto faults = Validator(exe, source).run();
  if (!faults.empty()) throw Error(join_lines(source, faults));
}

proto::Executable parse_executable(const std::string& bytes, const std::string& source) {
  proto::Executable exe;
  bool parsed;
  {
    // Corrupt strings make protobuf log to stderr; the Error below says it all.
    google::protobuf::LogSilencer quiet;
    parsed = exe.ParseFromString(bytes);
  }
  if (!parsed)
    throw Error(source + ": not a valid dlc executable (truncated or corrupt; " + std::to_string(bytes.size()) +
                " bytes do not parse)");
  // A wrong version is the more useful message for an old or foreign file.
  if (exe.format_version() == kFormatVersion && exe.end_marker() != kEndMarker)
    throw Error(source + ": truncated dlc executable (" + std::to_string(bytes.size()) +
                " bytes; the end marker is missing)");
  if (exe.format_version() == kFormatVersion) {
    bool has_code = !exe.code().empty() || !exe.ptx().empty() || exe.more_modules_size() > 0;
    if (has_code && !exe.has_code_checksum())
      throw Error(source + ": the native code has no checksum (written by an older dlc? compile the model again)");
    if (exe.has_code_checksum() && exe.code_checksum() != code_checksum(exe))
      throw Error(source + ": the native code is corrupt (its checksum does not match)");
  }
  validate_executable(exe, source);
  return exe;
}

uint32_t code_checksum(const proto::Executable& exe) {
  uLong crc = crc32(0L, Z_NULL, 0);
  auto add = [&](const std::string& part) {
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(part.data()), part.size());
  };
  add(exe.code());
  add(exe.ptx());
  for (const auto& m : exe.more_modules()) {
    add(m.code());
    add(m.ptx());
  }
  return static_cast<uint32_t>(crc);
}

proto::Executable load_executable(const std::string& path) { return parse_executable(read_file_bytes(path), path); }

std::string serialize_executable(const proto::Executable& exe, const std::string& source) {
  validate_executable(exe, source);
  proto::Executable marked = exe;
  marked.set_end_marker(kEndMarker);
  marked.set_code_checksum(code_checksum(marked));
  std::string bytes;
  if (!serialize_deterministic(marked, &bytes)) throw Error(source + ": cannot serialize the executable");
  return bytes;
}

void save_executable_atomic(const proto::Executable& exe, const std::string& path) {
  write_file_atomic(path, serialize_executable(exe, path));
}

Graph executable_graph(const proto::Executable& exe, const std::string& source) {
  Graph g = graph_from_proto(exe.graph());
  verify_or_throw(g, source);
  return g;
}

const proto::EntryPoint* find_entry_point(const proto::Executable& exe, const std::string& name) {
  for (const auto& e : exe.entry_points())
    if (e.name() == name) return &e;
  return nullptr;
}

}  // namespace dlc
