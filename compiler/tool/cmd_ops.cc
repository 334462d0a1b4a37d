// `dlc ops`: the op registry as a table, so model writers need not read C++.
#include <cstdio>
#include <string>

#include "compiler/tool/commands.h"
#include "ir/op_registry.h"

namespace dlc {
namespace {

const char* kind_name(AttrKind k) {
  switch (k) {
    case AttrKind::i: return "int";
    case AttrKind::f: return "float";
    case AttrKind::s: return "string";
    case AttrKind::ints: return "ints";
    case AttrKind::floats: return "floats";
    case AttrKind::dtype: return "dtype";
    case AttrKind::b: return "bool";
  }
  return "?";
}

/// "axis:int, keepdims:bool?": required attributes plain, optional with '?'.
std::string attr_summary(const OpDef& d) {
  std::string s;
  for (const auto& a : d.attrs) s += (s.empty() ? "" : ", ") + a.name + ":" + kind_name(a.kind) + (a.required ? "" : "?");
  return s;
}

}  // namespace

int cmd_ops(int argc, char** argv) {
  if (argc > 1) {
    std::string a = argv[1];
    bool help = a == "--help" || a == "-h";
    std::fprintf(help ? stdout : stderr,
                 "usage: dlc ops\n\nLists every op: inputs, attributes (? marks optional ones), whether it\n"
                 "has a gradient (composites: from their expansion), how it lowers, and what it computes.\n");
    return help ? 0 : 2;
  }
  for (const auto& [name, d] : OpRegistry::get().all()) {
    std::string arity = d.min_inputs == d.max_inputs ? std::to_string(d.min_inputs)
                                                     : std::to_string(d.min_inputs) + "-" + std::to_string(d.max_inputs);
    const char* grad = d.grad ? "grad" : d.lowering == Lowering::expansion ? "grad*" : "";
    std::printf("%-30s inputs %-4s %-12s %-5s {%s}  %s\n", name.c_str(), arity.c_str(), lowering_name(d.lowering), grad,
                attr_summary(d).c_str(), d.doc.c_str());
  }
  return 0;
}

}  // namespace dlc
