// Stage `plan_memory`: arena offsets for every program's temps
// (compiler/memory_plan.h); after it each program passes check_program.
#include "compiler/memory_plan.h"
#include "compiler/stage.h"
#include "ir/size_limits.h"

namespace dlc {
namespace {

class PlanMemoryStage : public Stage {
 public:
  std::string name() const override { return "plan_memory"; }
  IrLevel level() const override { return IrLevel::kernel; }

  bool run(Compilation& c) override {
    for (auto& p : c.programs) {
      plan_memory(p);
      // The arena is one allocation at load: a model whose every tensor fits
      // may still need more at once than the limit allows.
      check_size("entry point '" + p.entry + "': the planned temp arena", p.arena_bytes);
    }
    return !c.programs.empty();
  }

  void check(const Compilation& c) const override {
    for (const auto& p : c.programs) check_program(p);
  }

  std::string dump(const Compilation& c) const override {
    std::string s;
    for (const auto& p : c.programs)
      s += print_program(p) + "arena " + std::to_string(p.arena_bytes) + " bytes (unplanned " +
           std::to_string(p.unplanned_bytes) + ")\n\n";
    return s;
  }

  uint64_t fingerprint(const Compilation& c) const override { return fnv1a(dump(c)); }
};

}  // namespace

std::unique_ptr<Stage> make_plan_memory_stage() { return std::make_unique<PlanMemoryStage>(); }

}  // namespace dlc
