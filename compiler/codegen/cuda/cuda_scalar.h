// Prints a scalar expression DAG as CUDA C statements, one
// `const T vN = ...;` per node, each shared node computed once (the CUDA
// counterpart of compiler/codegen/cpu/scalar_emitter.h, same semantics).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "compiler/codegen/cuda/cuda_text.h"
#include "ir/scalar_expr.h"

namespace dlc::cuda {

class ScalarPrinter {
 public:
  /// `args[i]` is the C expression of operand i (a variable name; empty for
  /// operands the kernel did not load). `counter` numbers the variables, so
  /// several printers of one kernel never reuse a name.
  ScalarPrinter(std::string* out, std::string indent, ComputeType t, std::vector<std::string> args, int* counter);

  /// Appends the statements computing `e` and returns the C expression of
  /// its value (a variable, an operand or a literal). Nodes already printed
  /// by this printer are reused. Throws dlc::Error for an operand out of range.
  std::string print(const SExpr& e);

 private:
  void print_node(const ScalarNode& n);  // its operands are done
  std::string node_text(const ScalarNode& n);
  std::string call(const char* name, const std::string& a);

  std::string* out_;
  std::string indent_;
  ComputeType t_;
  std::vector<std::string> args_;
  int* counter_;
  std::unordered_map<const ScalarNode*, std::string> done_;
};

/// The operands an expression reads (ScalarOp::arg indices), sorted.
std::vector<int> args_of(const SExpr& e);

}  // namespace dlc::cuda
