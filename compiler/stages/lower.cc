// Stage `lower`: each entry's fusion plan -> a kernel Program
// (compiler/lower_to_kernels.h), temps not yet placed in the arena.
#include "compiler/lower_to_kernels.h"
#include "compiler/memory_plan.h"
#include "compiler/stage.h"
#include "ir/error.h"

namespace dlc {

namespace {

/// check_program wants every temp placed; before memory planning each
/// unplaced temp gets its own provisional slot, so everything else (buffer
/// indices, strides, expressions) is checked where lowering produced it.
void check_unplaced(const Program& p) {
  Program q = p;
  int64_t end = q.arena_bytes;
  for (auto& b : q.buffers) {
    if (b.kind != BufferKind::temp || b.offset >= 0) continue;
    b.offset = end;
    end += (b.bytes() + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
  }
  q.arena_bytes = end;
  check_program(q);
}

class LowerStage : public Stage {
 public:
  std::string name() const override { return "lower"; }
  IrLevel level() const override { return IrLevel::kernel; }

  bool run(Compilation& c) override {
    c.programs.clear();
    for (const auto& plan : c.plans) c.programs.push_back(lower_to_kernels(plan));
    return true;
  }

  void check(const Compilation& c) const override {
    for (const auto& p : c.programs) check_unplaced(p);
  }

  std::string dump(const Compilation& c) const override {
    std::string s;
    for (const auto& p : c.programs) s += print_program(p) + "\n";
    return s;
  }

  uint64_t fingerprint(const Compilation& c) const override { return fnv1a(dump(c)); }
};

}  // namespace

std::unique_ptr<Stage> make_lower_stage() { return std::make_unique<LowerStage>(); }

}  // namespace dlc
