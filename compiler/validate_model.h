// Model validation: everything the compiler would refuse about a model,
// found in one run and reported together.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace dlc {

/// Every error in `m`, one line each ("file:line: what, got value"):
///  - structure, types, initializer values and the training section's
///    names (verify_model);
///  - the optimizer's hyper-parameters: ranges, and any set but unused
///    (check_hyper_parameters);
///  - regularization coefficients and parameters (check_regularization);
///  - names the optimizer reserves: its inputs `learning_rate` and `step`
///    and its per-parameter state `<w>.<suffix>` (optimizer_name_clashes);
///  - every node without a gradient rule between a trainable parameter and
///    the loss (non_differentiable_nodes), when the structure is sound.
/// `dlc check` prints these; the pipeline's first stage (verify) throws
/// them all, so check and compile never disagree. Like verify_model it
/// fills `m.graph.types` and sorts the nodes; nothing else in `m` changes.
std::vector<std::string> validate_model(Model& m);

/// Throws dlc::Error with all of validate_model's messages, one per line.
void validate_or_throw(Model& m);

}  // namespace dlc
