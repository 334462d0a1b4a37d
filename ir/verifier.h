// The verifier: checks a graph's structure and infers every value's type.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/op_registry.h"

namespace dlc {

/// Checks the graph and fills `g.types`; sorts `g.nodes` topologically.
/// Returns every error found, one line each, of the form
///   "model.pbtxt:12: node 'h1' (relu): <what is wrong>"
/// An empty result means the graph is valid.
std::vector<std::string> verify_graph(Graph& g, const std::string& source = "");

/// verify_graph plus the training section: the loss names a scalar float
/// value and the optimizer kind is known. A model without one may not have
/// an output that needs a LABEL input (only train_step computes those).
std::vector<std::string> verify_model(Model& m);

/// Throws dlc::Error with all the messages, one per line, when any.
void verify_or_throw(Model& m);
void verify_or_throw(Graph& g, const std::string& source = "");

/// Checks a node's attributes against its op's schema; "" when they fit.
std::string check_attrs(const Node& n, const OpDef& def);

/// The optimizer kinds the training section accepts.
const std::vector<std::string>& known_optimizers();

}  // namespace dlc
