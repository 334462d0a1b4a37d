#include "ir/grad_util.h"

#include <algorithm>

namespace dlc {

std::string sum_to_shape(GraphBuilder& b, const std::string& grad, const std::vector<int64_t>& dims) {
  const std::vector<int64_t> from = b.type(grad).dims;
  if (from == dims) return grad;
  const int64_t lead = static_cast<int64_t>(from.size()) - static_cast<int64_t>(dims.size());
  std::vector<int64_t> axes;
  for (int64_t i = 0; i < static_cast<int64_t>(from.size()); ++i) {
    bool missing = i < lead;
    bool grown = !missing && dims[i - lead] == 1 && from[i] != 1;
    if (missing || grown) axes.push_back(i);
  }
  // An empty axes list would mean "all axes" to reduce_sum.
  std::string summed = axes.empty() ? grad : b.reduce_sum(grad, axes);
  return b.type(summed).dims == dims ? summed : b.reshape(summed, dims);
}

std::string expand_from_reduction(GraphBuilder& b, const std::string& grad, const std::vector<int64_t>& dims,
                                  const std::vector<int64_t>& axes, bool keepdims) {
  std::string g = grad;
  if (!keepdims) {
    std::vector<int64_t> kept = dims;
    for (int64_t a : axes) kept[a] = 1;
    if (b.type(g).dims != kept) g = b.reshape(g, kept);
  }
  return b.type(g).dims == dims ? g : b.broadcast_to(g, dims);
}

std::string element_count(GraphBuilder& b, const std::vector<int64_t>& dims, const std::vector<int64_t>& axes,
                          DType dtype) {
  double count = 1;
  bool batch = false;
  for (size_t i = 0; i < dims.size(); ++i) {
    bool counted = axes.empty() || std::find(axes.begin(), axes.end(), static_cast<int64_t>(i)) != axes.end();
    if (!counted) continue;
    if (dims[i] == kBatch) batch = true;
    else count *= static_cast<double>(dims[i]);
  }
  std::string c = b.scalar(count, dtype);
  if (!batch) return c;
  // Summing a batch-long vector of ones yields the batch size once bound.
  std::string batch_size = b.reduce_sum(b.fill(1.0, {dtype, {kBatch}}), {});
  return b.mul(c, batch_size);
}

std::vector<int64_t> reduction_axes(const std::vector<int64_t>& axes, int64_t rank, std::string* err) {
  std::vector<int64_t> r;
  if (axes.empty()) {
    for (int64_t i = 0; i < rank; ++i) r.push_back(i);
    return r;
  }
  for (int64_t a : axes) {
    int64_t n = normalize_axis(a, rank);
    if (n < 0) {
      *err = "axis " + std::to_string(a) + " is out of range for rank " + std::to_string(rank);
      return {};
    }
    if (std::find(r.begin(), r.end(), n) != r.end()) {
      *err = "axis " + std::to_string(a) + " is repeated";
      return {};
    }
    r.push_back(n);
  }
  std::sort(r.begin(), r.end());
  return r;
}

std::string scale(GraphBuilder& b, const std::string& grad, double factor) {
  return b.mul(grad, b.scalar(factor, b.type(grad).dtype));
}

std::string as_float(GraphBuilder& b, const std::string& x, DType dtype) {
  return b.type(x).dtype == dtype ? x : b.cast(x, dtype);
}

StableExp stable_exp(GraphBuilder& b, const std::string& x, const std::vector<int64_t>& axes) {
  Attrs keep{{"axes", attr_ints(axes)}, {"keepdims", attr_b(true)}};
  StableExp r;
  r.max = b.op("stop_gradient", {b.op("reduce_max", {x}, keep)});
  r.exp = b.op("exp", {b.sub(x, r.max)});
  r.sum = b.op("reduce_sum", {r.exp}, keep);
  return r;
}

}  // namespace dlc
