// The subcommands of the `dlc` tool, one file each (compiler/tool/cmd_*.cc).
//
// Each takes the arguments after `dlc`: argv[0] is the subcommand's name,
// the rest its options and files. Each handles `--help` itself, prints its
// results to stdout and its errors to stderr, and returns the exit status:
// 0 success, 1 the model or input is at fault, 2 a usage error.
// A dlc::Error escaping a command is printed by the dispatcher (exit 1).
#pragma once

#include <cstdint>

namespace dlc {

/// The largest --batch a dlc command takes (numbers are parsed strictly,
/// ir/number_text.h): a batch dimension beyond an int32 is a typo.
constexpr int64_t kMaxBatch = 2147483647;

/// `dlc check MODEL`: verifies a model and summarizes it, or lists every error.
int cmd_check(int argc, char** argv);
/// `dlc print MODEL [--after PASS] [--batch N]`: the graph as text.
int cmd_print(int argc, char** argv);
/// `dlc opt --passes a,b MODEL`: runs graph passes, prints the graph.
int cmd_opt(int argc, char** argv);
/// `dlc compile MODEL -o OUT.dlc ...`: builds an executable.
int cmd_compile(int argc, char** argv);
/// `dlc gradcheck MODEL`: symbolic against numerical gradients.
int cmd_gradcheck(int argc, char** argv);
/// `dlc ops`: every op the registry knows, with its one-line doc.
int cmd_ops(int argc, char** argv);
int cmd_import(int argc, char** argv);

}  // namespace dlc
