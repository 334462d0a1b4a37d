// How a value that no kernel stores still lies in memory: as a strided view
// of a stored value, through transpose, broadcast_to, reshape and identity.
//
// Steps outside loops (GEMMs, row kernels) read such views
// directly when the layout allows, instead of asking fusion for a copy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dlc {

struct FusionPlan;

/// `base`'s dense data seen with `dims`: element idx lives at
/// offset + sum idx[i] * strides[i] (in elements).
struct MemoryView {
  std::string base;
  int64_t offset = 0;
  std::vector<int64_t> dims;
  std::vector<int64_t> strides;
  /// Dense row-major: the base's data in order (size-1 dims ignored).
  bool dense() const;
};

/// The view of `v` over a value in memory, or nullopt when `v` must be
/// computed (it is inlined, or a reshape that merges dims which are not one
/// run in memory).
std::optional<MemoryView> view_of(const FusionPlan& plan, const std::string& v);

/// A 2-D view as a BLAS operand: leading dim and whether it is stored
/// transposed; nullopt for broadcast or otherwise strided views.
struct GemmLayout {
  int64_t offset = 0;
  int64_t ld = 0;
  bool trans = false;
};
std::optional<GemmLayout> gemm_layout(const MemoryView& v);

}  // namespace dlc
