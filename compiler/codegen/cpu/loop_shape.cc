#include "compiler/codegen/cpu/loop_shape.h"

namespace dlc::cpu {

int64_t LoopShape::parallel_range() const { return outer_dims() > 0 ? dims[0] : 1; }

int64_t LoopShape::work_per_item() const {
  int64_t n = 1;
  for (size_t d = outer_dims() > 0 ? 1 : 0; d < dims.size(); ++d) n *= dims[d];
  return n;
}

bool guard_can_fail(const Guard& g, const std::vector<int64_t>& coefs, const std::vector<int64_t>& dims) {
  int64_t lo = g.offset, hi = g.offset;
  for (size_t d = 0; d < coefs.size(); ++d) {
    int64_t span = coefs[d] * (dims[d] - 1);
    (span < 0 ? lo : hi) += span;
  }
  return lo < 0 || hi >= g.extent;
}

namespace {

// Every access's strides in one list, so merging treats them alike.
struct Nest {
  std::vector<int64_t> dims;
  std::vector<bool> reduced;
  std::vector<std::vector<int64_t>> strides;  // loads, then stores
};

void erase_dim(Nest& n, size_t d) {
  n.dims.erase(n.dims.begin() + d);
  n.reduced.erase(n.reduced.begin() + d);
  for (auto& s : n.strides) s.erase(s.begin() + d);
}

// Dims d and d+1 merge when every access steps over d exactly as far as it
// walks through all of d+1, and both are kept or both reduced.
bool mergeable(const Nest& n, size_t d) {
  if (n.reduced[d] != n.reduced[d + 1]) return false;
  for (const auto& s : n.strides)
    if (s[d] != s[d + 1] * n.dims[d + 1]) return false;
  return true;
}

}  // namespace

LoopShape canonical_shape(const LoopKernel& k) {
  Nest n;
  n.dims = k.dims;
  size_t first_reduced = k.dims.size() - k.reduce_dims;
  for (size_t d = 0; d < k.dims.size(); ++d) n.reduced.push_back(d >= first_reduced);
  for (const auto& l : k.loads) {
    if (l.iota_dim >= 0) {
      std::vector<int64_t> weights(k.dims.size(), 0);
      weights[l.iota_dim] = 1;
      n.strides.push_back(weights);
    } else {
      n.strides.push_back(l.strides);
    }
  }
  for (const auto& s : k.stores) n.strides.push_back(s.at.strides);
  // A guard's coordinate is linear in the index like an address: dims merge
  // only where it too walks them as one.
  for (const auto& l : k.loads)
    for (const auto& g : l.guards) n.strides.push_back(g.coefs);

  // A dim of size 1 contributes nothing to any index; a zero-size dim is
  // kept so the nest stays empty.
  for (size_t d = n.dims.size(); d-- > 0;)
    if (n.dims[d] == 1) erase_dim(n, d);
  for (size_t d = n.dims.size(); d-- > 1;) {
    if (!mergeable(n, d - 1)) continue;
    n.dims[d - 1] *= n.dims[d];
    for (auto& s : n.strides) s[d - 1] = s[d];
    erase_dim(n, d);
  }

  LoopShape shape;
  shape.dims = n.dims;
  for (bool r : n.reduced) shape.reduce_dims += r ? 1 : 0;
  shape.loads.assign(n.strides.begin(), n.strides.begin() + k.loads.size());
  size_t at = k.loads.size() + k.stores.size();
  shape.stores.assign(n.strides.begin() + k.loads.size(), n.strides.begin() + at);
  for (const auto& l : k.loads) {
    shape.guards.emplace_back(n.strides.begin() + at, n.strides.begin() + at + l.guards.size());
    at += l.guards.size();
  }

  // Column order when no load of the reduction walks the innermost reduced
  // dim contiguously but one walks the innermost output dim contiguously.
  int outer = shape.outer_dims();
  // Only a lone accumulator with row stores can run column-wise: the
  // accumulators of a multi-reduction row depend on one another.
  if (shape.reduce_dims > 0 && outer > 0 && k.reductions.size() == 1 && !k.has_per_element_stores()) {
    size_t inner_reduced = shape.dims.size() - 1, inner_outer = outer - 1;
    bool reduced_contiguous = false, outer_contiguous = false;
    for (size_t i = 0; i < k.loads.size(); ++i) {
      if (!k.loads[i].reads_memory()) continue;
      reduced_contiguous |= shape.loads[i][inner_reduced] == 1;
      outer_contiguous |= shape.loads[i][inner_outer] == 1;
    }
    if (!reduced_contiguous && outer_contiguous) shape.order = ReduceOrder::column;
  }
  return shape;
}

}  // namespace dlc::cpu
