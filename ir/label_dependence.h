// Which graph inputs a value needs. Entry points are built from it: an
// output that needs a LABEL input can be computed only where labels are
// fed (train_step), so predict leaves it out.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace dlc {

/// The graph inputs that `values` depend on, through the nodes that compute
/// them (a value that is itself an input needs that input).
std::set<std::string> inputs_needed(const Graph& g, const std::vector<std::string>& values);

/// The LABEL inputs that `value` depends on, in the graph's input order;
/// empty when `value` can be computed from the other inputs.
std::vector<std::string> label_inputs_needed(const Graph& g, const std::string& value);

/// "needs the LABEL input 'y'" or "needs the LABEL inputs 'y', 'z'", for
/// messages about `value` (which must need at least one).
std::string describe_label_need(const std::vector<std::string>& labels);

}  // namespace dlc
