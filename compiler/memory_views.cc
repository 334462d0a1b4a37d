#include "compiler/memory_views.h"

#include <algorithm>

#include "compiler/fusion.h"
#include "ir/op_registry.h"

namespace dlc {

namespace {

/// Strides for `to` over the same elements as a view with `from`/`strides`,
/// or nullopt where some group of merged dims is not one run in memory
/// (NumPy's no-copy reshape rule). Size-1 dims take any stride.
std::optional<std::vector<int64_t>> reshaped_strides(const std::vector<int64_t>& from,
                                                     const std::vector<int64_t>& strides,
                                                     const std::vector<int64_t>& to) {
  std::vector<int64_t> old_dims, old_strides;
  for (size_t j = 0; j < from.size(); ++j) {
    if (from[j] == 0) return std::nullopt;  // nothing to view; let fusion decide
    if (from[j] != 1) {
      old_dims.push_back(from[j]);
      old_strides.push_back(strides[j]);
    }
  }
  std::vector<int64_t> out(to.size(), 0);
  size_t oi = 0, ni = 0;
  while (oi < old_dims.size() && ni < to.size()) {
    size_t oj = oi + 1, nj = ni + 1;
    int64_t op = old_dims[oi], np = to[ni];
    while (op != np) {
      if (np < op) {
        if (nj == to.size()) return std::nullopt;
        np *= to[nj++];
      } else {
        if (oj == old_dims.size()) return std::nullopt;
        op *= old_dims[oj++];
      }
    }
    for (size_t k = oi; k + 1 < oj; ++k)
      if (old_strides[k] != old_strides[k + 1] * old_dims[k + 1]) return std::nullopt;
    out[nj - 1] = old_strides[oj - 1];
    for (size_t k = nj - 1; k > ni; --k) out[k - 1] = out[k] * to[k];
    oi = oj;
    ni = nj;
  }
  if (oi != old_dims.size()) return std::nullopt;
  for (; ni < to.size(); ++ni)
    if (to[ni] != 1) return std::nullopt;
  return out;
}

}  // namespace

bool MemoryView::dense() const {
  if (offset != 0) return false;
  int64_t expect = 1;
  for (int64_t i = static_cast<int64_t>(dims.size()) - 1; i >= 0; --i) {
    if (dims[i] != 1 && strides[i] != expect) return false;
    expect *= dims[i];
  }
  return true;
}

std::optional<MemoryView> view_of(const FusionPlan& plan, const std::string& v) {
  const Graph& g = *plan.graph;
  const std::vector<int64_t>& dims = g.type_of(v).dims;
  if (plan.in_memory(v)) return MemoryView{v, 0, dims, strides_of(dims)};
  int k = plan.producer.at(v);
  const Node& n = g.nodes[k];
  NodeKind kind = plan.kind[k];
  if (kind != NodeKind::view && kind != NodeKind::reshape && kind != NodeKind::identity) return std::nullopt;
  std::optional<MemoryView> in = view_of(plan, n.inputs[0]);
  if (!in || kind == NodeKind::identity) return in;
  MemoryView out{in->base, in->offset, dims, std::vector<int64_t>(dims.size(), 0)};
  if (kind == NodeKind::view) {
    // Output dim i reads input dim j where the op's index map says so.
    std::vector<int> out_id(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) out_id[i] = static_cast<int>(i);
    std::vector<int> follows = find_op(n.op)->index_map(n, in->dims, dims, out_id);
    for (size_t j = 0; j < follows.size(); ++j)
      if (follows[j] >= 0) out.strides[follows[j]] += in->strides[j];
    return out;
  }
  // reshape: dense data takes the new dims' dense strides; strided data
  // keeps a view where every group of dims the reshape splits or merges
  // walks memory as one run (a transposed matrix split into image axes).
  if (in->dense()) {
    out.strides = strides_of(dims);
    return out;
  }
  std::optional<std::vector<int64_t>> strides = reshaped_strides(in->dims, in->strides, dims);
  if (!strides) return std::nullopt;
  out.strides = *strides;
  return out;
}

std::optional<GemmLayout> gemm_layout(const MemoryView& v) {
  if (v.dims.size() != 2) return std::nullopt;
  int64_t r = v.dims[0], c = v.dims[1], s0 = v.strides[0], s1 = v.strides[1];
  // Size-1 dims may carry any stride; treat them as whatever fits.
  bool unit_cols = c == 1 || s1 == 1;
  if (unit_cols && (r == 1 || s0 >= c)) return GemmLayout{v.offset, r == 1 ? std::max<int64_t>(c, 1) : s0, false};
  bool unit_rows = r == 1 || s0 == 1;
  if (unit_rows && (c == 1 || s1 >= r)) return GemmLayout{v.offset, c == 1 ? std::max<int64_t>(r, 1) : s1, true};
  return std::nullopt;
}

}  // namespace dlc
