// Helpers shared by the test suites.
#pragma once

#include <string>
#include <vector>

#include "ir/tensor.h"

namespace dlc::test {

/// Path of a file in the source tree, e.g. source_path("models/mlp_mnist.pbtxt").
std::string source_path(const std::string& rel);
/// Path of a built tool, e.g. tool_path("dlc").
std::string tool_path(const std::string& name);
/// A fresh empty temporary folder for this test.
std::string temp_dir();
/// Runs a shell command; returns its exit status and fills `output` with stdout+stderr.
int run_command(const std::string& cmd, std::string* output);

/// A tensor of `dims` filled from a seeded uniform(lo, hi) generator.
Tensor random_tensor(const std::vector<int64_t>& dims, uint64_t seed, double lo = -1, double hi = 1,
                     DType dtype = DType::f32);

}  // namespace dlc::test
