#include "ir/tensor.h"

#include <cmath>

namespace dlc {

int64_t broadcast_offset(const std::vector<int64_t>& from, const std::vector<int64_t>& to,
                         int64_t out_index) {
  int64_t offset = 0, stride = 1;
  int64_t lead = static_cast<int64_t>(to.size() - from.size());
  for (int64_t i = static_cast<int64_t>(to.size()) - 1; i >= 0; --i) {
    int64_t coord = out_index % to[i];
    out_index /= to[i];
    int64_t j = i - lead;
    if (j < 0) continue;
    if (from[j] != 1) offset += coord * stride;
    stride *= from[j];
  }
  return offset;
}

void round_to_dtype(Tensor& t) {
  if (is_integer(t.type.dtype)) {
    for (double& v : t.data) v = std::trunc(v);
  } else if (t.type.dtype == DType::boolean) {
    for (double& v : t.data) v = v != 0.0 ? 1.0 : 0.0;
  }
}

}  // namespace dlc
