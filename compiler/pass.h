// A compiler pass: a name and a run() that reports whether it changed the model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace dlc {

class Pass {
 public:
  virtual ~Pass() = default;
  /// Short name used by --dump-after (e.g. "autodiff").
  virtual std::string name() const = 0;
  /// Transforms `m`; returns true when it changed anything. Throws
  /// dlc::Error for a model the pass cannot handle, naming the node.
  virtual bool run(Model& m) = 0;
};

}  // namespace dlc
