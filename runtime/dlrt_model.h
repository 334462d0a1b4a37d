// What a dlrt_model handle holds (include/dlrt.h keeps it opaque). Internal:
// the C API's implementation and the runtime's own tools (dlrun bench
// --profile reads the session's kernel span through it) include this
// header; applications never do.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/session.h"

struct dlrt_model {
  std::unique_ptr<dlc::Session> session;
  /// Metadata of the last loaded checkpoint, in key order.
  std::vector<std::pair<std::string, std::string>> metadata;
  /// dlrt_model_fusion_report's text.
  std::string fusion_report;
  /// dlrt_run's scratch, kept so that a call allocates nothing (a model
  /// handle is used from one thread at a time).
  std::vector<const void*> bound_inputs;
  std::vector<void*> bound_outputs;
  std::vector<char> given_inputs;
};
