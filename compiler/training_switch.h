// Training switches (if_training, Lowering::training_switch) resolved for
// one entry point before fusion.
//
// One graph serves train_step and predict; a composite that differs between
// them (batch_norm) joins its two forms with if_training(train, infer).
// Fusion plans each entry over a copy of the graph in which every switch is
// the identity of the input that entry reads, so the other form is dead
// there and nothing downstream sees a switch.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace dlc {

/// True when some node of `g` is a training switch.
bool has_training_switches(const Graph& g);

/// `g` with each training switch replaced by a reshape to its own dims (the
/// identity) of input 0 when `training`, else input 1. Node order, names and
/// value types are kept. `resolved`, when given, receives one line per switch.
Graph resolve_training_switches(const Graph& g, bool training, std::vector<std::string>* resolved = nullptr);

}  // namespace dlc
