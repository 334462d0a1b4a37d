#include "compiler/memory_plan.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "ir/size_limits.h"

namespace dlc {
namespace {

void loop_buffers(const LoopKernel& k, std::vector<int>* reads, std::vector<int>* writes) {
  for (const auto& l : k.loads)
    if (l.reads_memory()) reads->push_back(l.buffer);
  for (const auto& s : k.stores) writes->push_back(s.at.buffer);
}

// Sizes add up with saturation: every buffer is within the memory limit
// (the verifier checks each value), but their sum need not fit int64, and a
// wrapped sum would plan a tiny arena for a model that cannot run.
int64_t align_up(int64_t x) { return saturating_add(x, kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

bool same_map(const Access& a, const Access& b) {
  return a.offset == b.offset && a.strides == b.strides && a.reads_memory() && b.reads_memory();
}

/// Union-find over buffers: in-place pairs share one slot.
struct Slots {
  std::vector<int> parent;
  explicit Slots(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int x) { return parent[x] == x ? x : parent[x] = find(parent[x]); }
};

}  // namespace

void step_buffers(const Step& s, std::vector<int>* reads, std::vector<int>* writes) {
  if (auto* k = s.loop()) loop_buffers(*k, reads, writes);
  if (auto* g = s.gemm()) {
    reads->push_back(g->a.buffer);
    reads->push_back(g->b.buffer);
    if (g->beta != 0) reads->push_back(g->c.buffer);
    writes->push_back(g->c.buffer);
    if (g->has_epilogue()) loop_buffers(g->epilogue, reads, writes);
  }
  if (auto* c = s.copy()) {
    reads->push_back(c->src);
    writes->push_back(c->dst);
  }
  if (auto* r = s.all_reduce()) {
    reads->insert(reads->end(), r->src.begin(), r->src.end());
    writes->insert(writes->end(), r->dst.begin(), r->dst.end());
  }
  if (auto* c = s.conv())
    for (const ConvOperand* x : {&c->image, &c->weight, &c->result})
      (x == &c->written() ? writes : reads)->push_back(x->buffer);
}

std::vector<Lifetime> buffer_lifetimes(const Program& p) {
  std::vector<Lifetime> life(p.buffers.size());
  for (size_t t = 0; t < p.steps.size(); ++t) {
    std::vector<int> reads, writes;
    step_buffers(p.steps[t], &reads, &writes);
    reads.insert(reads.end(), writes.begin(), writes.end());
    for (int b : reads) {
      Lifetime& l = life[b];
      if (l.first < 0) l.first = static_cast<int>(t);
      l.last = static_cast<int>(t);
    }
  }
  return life;
}

namespace {

/// In-place candidates of one loop kernel at `step`: for each temp store,
/// a temp load of the same size and map that dies here. In a row kernel
/// only per-element stores qualify: they run after every read of their row
/// (the reductions and row stores), each element read before it is written.
void find_in_place(const Program& p, const LoopKernel& k, int step, int gemm_c, const std::vector<Lifetime>& life,
                   std::vector<bool>* taken, MemoryStats* stats, Slots* slots) {
  for (const auto& s : k.stores) {
    if (k.reduces() && !s.per_element) continue;
    const Buffer& t = p.buffers[s.at.buffer];
    if (t.kind != BufferKind::temp || life[t.id].first != step) continue;
    for (const auto& l : k.loads) {
      if (!l.reads_memory()) continue;
      const Buffer& u = p.buffers[l.buffer];
      if (u.kind != BufferKind::temp || (*taken)[u.id] || u.id == t.id || life[u.id].last != step ||
          u.dtype != t.dtype || u.numel != t.numel || !same_map(l, s.at))
        continue;
      // Inside a GEMM step only the GEMM's own result may be overwritten:
      // the operands are still being read while the product is formed.
      if (gemm_c >= 0 ? u.id != gemm_c : life[u.id].first == step) continue;
      bool every_load_same = true;
      for (const auto& other : k.loads)
        if (other.buffer == u.id && !same_map(other, s.at)) every_load_same = false;
      if (!every_load_same) continue;
      (*taken)[u.id] = true;
      slots->parent[slots->find(t.id)] = slots->find(u.id);
      stats->in_place.push_back({u.id, t.id, step});
      break;
    }
  }
}

}  // namespace

MemoryStats plan_memory(Program& p) {
  MemoryStats stats;
  std::vector<Lifetime> life = buffer_lifetimes(p);
  Slots slots(p.buffers.size());
  std::vector<bool> taken(p.buffers.size(), false);
  for (size_t t = 0; t < p.steps.size(); ++t) {
    const Step& s = p.steps[t];
    if (auto* k = s.loop()) find_in_place(p, *k, static_cast<int>(t), -1, life, &taken, &stats, &slots);
    if (auto* g = s.gemm(); g && g->has_epilogue())
      find_in_place(p, g->epilogue, static_cast<int>(t), g->c.buffer, life, &taken, &stats, &slots);
  }
  // A GEMM's result overwritten by its own epilogue is gone when the step
  // ends: the step no longer offers it for --verify-fusion.
  for (const auto& ip : stats.in_place) {
    auto& values = p.steps[ip.step].values;
    values.erase(std::remove_if(values.begin(), values.end(), [&](const auto& v) { return v.second == ip.from; }),
                 values.end());
  }
  // One slot per in-place chain: the union of its lives, its largest size.
  struct Slot {
    int root;
    int64_t bytes = 0;
    Lifetime life;
  };
  std::map<int, Slot> by_root;
  for (const auto& b : p.buffers) {
    if (b.kind != BufferKind::temp) continue;
    stats.unplanned_bytes = saturating_add(stats.unplanned_bytes, b.bytes());
    int r = slots.find(b.id);
    Slot& sl = by_root.try_emplace(r, Slot{r, 0, {}}).first->second;
    sl.bytes = std::max(sl.bytes, b.bytes());
    Lifetime l = life[b.id];
    if (l.first < 0) l = {0, 0};  // never used: still give it distinct bytes
    sl.life.first = sl.life.first < 0 ? l.first : std::min(sl.life.first, l.first);
    sl.life.last = std::max(sl.life.last, l.last);
  }
  std::vector<Slot> order;
  for (auto& [r, sl] : by_root) order.push_back(sl);
  std::stable_sort(order.begin(), order.end(), [](const Slot& a, const Slot& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.life.first < b.life.first;
  });
  struct Placed {
    int64_t offset, bytes;
    Lifetime life;
  };
  std::vector<Placed> placed;
  std::map<int, int64_t> offset_of;
  int64_t arena = 0;
  for (const auto& sl : order) {
    std::vector<Placed> clash;
    for (const auto& q : placed)
      if (q.life.first <= sl.life.last && sl.life.first <= q.life.last) clash.push_back(q);
    std::sort(clash.begin(), clash.end(), [](const Placed& a, const Placed& b) { return a.offset < b.offset; });
    int64_t offset = 0;
    for (const auto& q : clash) {
      if (saturating_add(offset, sl.bytes) <= q.offset) break;
      offset = std::max(offset, align_up(saturating_add(q.offset, q.bytes)));
    }
    placed.push_back({offset, sl.bytes, sl.life});
    offset_of[sl.root] = offset;
    arena = std::max(arena, align_up(saturating_add(offset, sl.bytes)));
  }
  for (auto& b : p.buffers)
    if (b.kind == BufferKind::temp) b.offset = offset_of.at(slots.find(b.id));
  p.arena_bytes = stats.arena_bytes = arena;
  p.unplanned_bytes = stats.unplanned_bytes;
  return stats;
}

}  // namespace dlc
