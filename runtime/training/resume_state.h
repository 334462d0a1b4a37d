// What `dlrun train --checkpoint` stores in a checkpoint's metadata so that
// `--resume` can go on where the run stopped, and the strict reading of it
// back: a field that is missing, not a number, or out of range (epoch -3,
// step -1) is an error naming the checkpoint, the field and the value before
// any training, not a run over negative epochs or an Adam step that divides
// by zero.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace dlc {

struct ResumeState {
  int64_t epoch = 0;  ///< epochs done
  int64_t step = 0;   ///< updates done (at least one per epoch)
  uint64_t seed = 0;  ///< the run's shuffle seed
  bool stopped_early = false;
  /// Early stopping (--val-split): written when the run held out data.
  bool has_best = false;
  double best_val_loss = 0;  ///< >= 0, or +inf before any finite validation loss
  int64_t best_epoch = -1;   ///< 1..epoch, or -1 before any
  int64_t bad_epochs = 0;    ///< 0..epoch
};

/// The metadata of `s`; best_val_loss in hex-float, so it reads back exactly.
std::map<std::string, std::string> resume_metadata(const ResumeState& s);

/// Reads and checks the fields of `meta`, the metadata of checkpoint `path`
/// (named in errors). `epoch` and `step` are required, the three early
/// stopping fields all or none. Throws dlc::Error.
ResumeState parse_resume_state(const std::map<std::string, std::string>& meta, const std::string& path);

}  // namespace dlc
