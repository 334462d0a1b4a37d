#include "runtime/collectives/host_all_reduce.h"

#include <algorithm>
#include <cstring>

namespace dlc {
namespace {

template <typename T>
void reduce_dtype(const Program& p, const AllReduceStep& step, void* const* pointers, ProcessGroup& group,
                  DType dtype, std::vector<T>* bucket) {
  int64_t n = 0;
  for (int src : step.src)
    if (p.buffers[src].dtype == dtype) n += p.buffers[src].numel;
  if (n == 0) return;
  // Padded with zeros, so the group reduces the bucket where it lies.
  const int64_t padded = group.bucket_length(n);
  bucket->resize(static_cast<size_t>(padded));
  std::fill(bucket->begin() + n, bucket->end(), T(0));
  int64_t at = 0;
  for (int src : step.src) {
    const Buffer& b = p.buffers[src];
    if (b.dtype != dtype) continue;
    std::memcpy(bucket->data() + at, pointers[src], static_cast<size_t>(b.bytes()));
    at += b.numel;
  }
  group.all_reduce_mean(bucket->data(), padded);
  at = 0;
  for (size_t k = 0; k < step.src.size(); ++k) {
    const Buffer& b = p.buffers[step.src[k]];
    if (b.dtype != dtype) continue;
    std::memcpy(pointers[step.dst[k]], bucket->data() + at, static_cast<size_t>(b.bytes()));
    at += b.numel;
  }
}

}  // namespace

void HostAllReduce::run(const Program& p, const AllReduceStep& step, void* const* pointers, ProcessGroup& group) {
  if (group.size() == 1) {  // the mean over one process: a copy
    for (size_t k = 0; k < step.src.size(); ++k) {
      int64_t bytes = p.buffers[step.src[k]].bytes();
      if (bytes > 0 && step.dst[k] != step.src[k])
        std::memcpy(pointers[step.dst[k]], pointers[step.src[k]], static_cast<size_t>(bytes));
    }
    return;
  }
  reduce_dtype(p, step, pointers, group, DType::f32, &f32_);
  reduce_dtype(p, step, pointers, group, DType::f64, &f64_);
}

}  // namespace dlc
