// A float64 interpreter of kernel Programs.
//
// It is the oracle for fusion (tests compare it with the reference
// interpreter on the graph) and for the native backends (--verify-fusion
// compares their buffers with it, step by step). Plain rather than fast.
// Temps live in a simulated arena at their planned offsets, so a memory
// plan that lets two live temps overlap shows up as wrong numbers or NaN.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernel/kernel_ir.h"
#include "ir/op_registry.h"
#include "ir/tensor.h"

namespace dlc {

class ProgramEvaluator {
 public:
  /// Checks `p` (check_program), keeps a copy, and zero-fills its state buffers.
  explicit ProgramEvaluator(Program p);

  /// Replaces a state buffer (parameter or optimizer state) by name.
  void set_state(const std::string& name, const Tensor& value);
  /// The current value of a state buffer.
  Tensor state(const std::string& name) const;

  /// Runs every step with `inputs` bound by input name; returns the entry
  /// outputs by value name. State buffers keep their new values.
  /// `ctx.seed`/`ctx.step` are the run's, for the dropout masks of a
  /// training program. Throws dlc::Error for a missing or mis-shaped input.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs, const EvalContext& ctx = {});

  /// The contents of buffer `id` now (its dims and dtype).
  Tensor buffer(int id) const;

  /// When set, called after each step with its index.
  std::function<void(int step)> after_step;

 private:
  double read(int buffer, int64_t i) const;
  void write(int buffer, int64_t i, double v);
  void run_step(const Step& s, const EvalContext& ctx);
  void run_loop(const LoopKernel& k, const EvalContext& ctx);

  Program p_;
  std::vector<std::vector<double>> own_;  // non-temp buffers
  std::vector<double> arena_;             // one slot per arena byte
};

}  // namespace dlc
