// Lowering: a graph and one entry point's wants -> a kernel Program.
//
// Runs the fusion planner (compiler/fusion.h), orders the resulting steps,
// gives every value in memory a buffer, and emits the steps. Memory planning
// (offsets of temps) is separate: compiler/memory_plan.h.
//
// Schedule: a topological order of the steps that follows the graph's node
// order, except that a step writing a state's new value waits until every
// other step reading the state's old value has run, so it can write in place.
//
// State updates (param := value): the step computing the value writes the
// parameter's buffer directly ONLY when no later step reads the old value
// and, in that step itself, every read of the old value is at the element
// being written (a loop kernel's load with the store's index map). Otherwise
// the value goes to a temp and a copy at the end of the program writes it.
#pragma once

#include "compiler/fusion.h"
#include "kernel/kernel_ir.h"

namespace dlc {

/// Lowers `e` over `g` (verified, batch bound). Temps are left unplaced
/// (offset -1); run plan_memory next, or use build_program.
Program lower_to_kernels(const Graph& g, const EntrySpec& e);

/// The same from a plan made by plan_fusion (the pipeline's `fuse` stage);
/// the plan's graph must outlive the call.
Program lower_to_kernels(const FusionPlan& plan);

/// lower_to_kernels + plan_memory + check_program: a Program ready to run.
Program build_program(const Graph& g, const EntrySpec& e);

/// The entry specs of a model as the pipeline compiles it: "predict" (the
/// graph outputs that need no LABEL input, no updates, not training) and,
/// when the model trains, "train_step" (the loss then every graph output;
/// Model::updates).
std::vector<EntrySpec> entry_specs(const Model& m);

/// An executable's entry point as a spec; training when it is "train_step".
EntrySpec entry_spec(const proto::EntryPoint& ep);

}  // namespace dlc
