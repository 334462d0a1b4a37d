#include "compiler/memory_views.h"

#include <algorithm>

#include "compiler/fusion.h"
#include "ir/op_registry.h"

namespace dlc {

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
  // reshape: a relabeling of size-1 dims keeps the strides of the others;
  // any other reshape needs dense data.
  std::vector<size_t> in_big, out_big;
  for (size_t j = 0; j < in->dims.size(); ++j)
    if (in->dims[j] != 1) in_big.push_back(j);
  for (size_t j = 0; j < dims.size(); ++j)
    if (dims[j] != 1) out_big.push_back(j);
  bool relabel = in_big.size() == out_big.size();
  for (size_t i = 0; relabel && i < in_big.size(); ++i) relabel = in->dims[in_big[i]] == dims[out_big[i]];
  if (relabel) {
    for (size_t i = 0; i < in_big.size(); ++i) out.strides[out_big[i]] = in->strides[in_big[i]];
    return out;
  }
  if (!in->dense()) return std::nullopt;
  out.strides = strides_of(dims);
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
