#include "runtime/training/resume_state.h"

#include <cmath>
#include <cstdio>

#include "ir/error.h"
#include "ir/number_text.h"
#include "runtime/tool/command_line.h"

namespace dlc {
namespace {

/// The largest step count taken: integers up to 2^53 are exact as doubles,
/// which the learning-rate schedule computes in.
constexpr int64_t kMaxStep = int64_t{1} << 53;

/// `v` in C's hex float notation: strtod reads back the same double.
std::string exact(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

}  // namespace

std::map<std::string, std::string> resume_metadata(const ResumeState& s) {
  std::map<std::string, std::string> meta = {
      {"epoch", std::to_string(s.epoch)}, {"step", std::to_string(s.step)}, {"seed", std::to_string(s.seed)}};
  if (s.has_best) {
    meta["best_val_loss"] = exact(s.best_val_loss);
    meta["best_epoch"] = std::to_string(s.best_epoch);
    meta["bad_epochs"] = std::to_string(s.bad_epochs);
  }
  if (s.stopped_early) meta["stopped_early"] = "1";
  return meta;
}

ResumeState parse_resume_state(const std::map<std::string, std::string>& meta, const std::string& path) {
  auto field = [&](const char* key) -> const std::string* {
    auto it = meta.find(key);
    return it == meta.end() ? nullptr : &it->second;
  };
  auto required = [&](const char* key) -> const std::string& {
    if (const std::string* v = field(key)) return *v;
    throw Error(path + ": checkpoint has no '" + key + "' metadata to resume from");
  };
  auto name = [&](const char* key) { return path + ": metadata '" + key + "'"; };

  ResumeState s;
  s.epoch = parse_whole_number(name("epoch"), required("epoch"), 0, kMaxEpochs);
  s.step = parse_whole_number(name("step"), required("step"), 0, kMaxStep);
  if (s.step < s.epoch)
    throw Error(name("step") + " is " + std::to_string(s.step) + ", fewer than its " + std::to_string(s.epoch) +
                " epochs (each epoch takes at least one update)");
  if (const std::string* v = field("seed")) s.seed = parse_unsigned_number(name("seed"), *v);
  if (const std::string* v = field("stopped_early")) {
    if (*v != "1") throw Error(name("stopped_early") + ": '" + *v + "' is not 1");
    s.stopped_early = true;
  }

  const std::string *best_val = field("best_val_loss"), *best_epoch = field("best_epoch"),
                    *bad_epochs = field("bad_epochs");
  s.has_best = best_val || best_epoch || bad_epochs;
  if (!s.has_best) return s;
  if (!best_val || !best_epoch || !bad_epochs)
    throw Error(path + ": checkpoint has only some of the early-stopping metadata (best_val_loss, best_epoch, "
                "bad_epochs); it needs all three");
  // Before the first finite validation loss the best is +inf ("inf" in %a).
  s.best_val_loss = *best_val == "inf" ? INFINITY
                                       : parse_real_number(name("best_val_loss"), *best_val, RealRange::non_negative());
  s.best_epoch = parse_whole_number(name("best_epoch"), *best_epoch, -1, s.epoch);
  if (s.best_epoch == 0) throw Error(name("best_epoch") + ": '0' is out of range: must be -1 or in 1.." +
                                     std::to_string(s.epoch));
  s.bad_epochs = parse_whole_number(name("bad_epochs"), *bad_epochs, 0, s.epoch);
  return s;
}

}  // namespace dlc
