// Gradient checking: symbolic gradients (autodiff) against central finite
// differences, both evaluated by the reference interpreter in float64.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/op_registry.h"
#include "ir/tensor.h"

namespace dlc {

/// The worst disagreement found for one value.
struct GradcheckEntry {
  std::string value;
  double max_rel_error = 0;
  // Where the worst error is, and what both sides said there.
  int64_t worst_index = 0;
  double analytic = 0;
  double numeric = 0;
  int64_t elements_checked = 0;
};

struct GradcheckOptions {
  /// Elements checked per value: 0 checks every one, otherwise at most this
  /// many, drawn without replacement from a generator seeded by `sample_seed`.
  int64_t max_elements = 0;
  uint64_t sample_seed = 0;
  /// The run context of every evaluation; a fixed seed and step make
  /// dropout draw the same masks for the loss and for its gradient.
  EvalContext ctx;
};

/// The relative error of an analytic derivative `a` against a numerical `n`:
///   |a - n| / max(|a| + |n|, kGradcheckFloor).
/// The floor keeps derivatives that are zero up to rounding (a dead ReLU,
/// an unused input) from dividing noise by noise; below it the measure is
/// an absolute error scaled by 1/kGradcheckFloor.
inline constexpr double kGradcheckFloor = 1e-4;

/// The default finite-difference step (see compare_gradients).
inline constexpr double kGradcheckEps = 1e-3;
double gradcheck_relative_error(double analytic, double numeric);

/// Compares gradients that are already in `g` (wrt value -> gradient value,
/// e.g. from append_gradients) with central finite differences of `loss`
/// (summed over its elements when it is not a scalar). Each element x of a
/// wrt value is set to x ± eps and x ± eps/2 in turn; the numerical
/// derivative is the Richardson combination (4·D(eps/2) − D(eps)) / 3 of the
/// central differences D(h) = (L(x+h) − L(x−h)) / 2h, whose error is
/// O(eps⁴) instead of O(eps²), so a relatively large eps keeps rounding
/// noise small. An element whose error exceeds 1e-7 is measured again with
/// eps/10 and keeps the smaller error: a step that crosses a kink (relu or
/// |x| at 0) is wrong for that step only. `g` must be verified and batch-bound; every wrt value must
/// be a graph input or parameter given in `feeds`.
std::vector<GradcheckEntry> compare_gradients(const Graph& g, const std::string& loss,
                                              const std::map<std::string, std::string>& gradients,
                                              const std::map<std::string, Tensor>& feeds, double eps = kGradcheckEps,
                                              const GradcheckOptions& opts = {});

/// Copies `g`, appends the gradients of `loss` with respect to `wrt`
/// (append_gradients) and compares them with compare_gradients. Returns one
/// entry per wrt value, in the order of `wrt`.
std::vector<GradcheckEntry> gradcheck(const Graph& g, const std::string& loss, const std::vector<std::string>& wrt,
                                      const std::map<std::string, Tensor>& feeds, double eps = kGradcheckEps,
                                      const GradcheckOptions& opts = {});

/// Checks every trainable parameter of a model with a training section, on
/// random data: binds the batch dimension to `batch`, adds the training
/// section's regularization to the loss, fills DATA inputs from N(0, 1) and
/// LABEL inputs with values their loss accepts (class indices in [0, C) for
/// class losses and one_hot, -1/1 for `logistic`, else 0/1 integers or
/// U(0, 1) floats), and parameters from their initializer plus
/// N(0, s) noise (s: half the initial values' RMS, 0.1 when they are all
/// zero) so no bias sits at an exact symmetric zero. Runs in training mode
/// (dropout on, fixed masks). At most `max_elements` elements per parameter
/// are checked (0: all). Throws dlc::Error when the model cannot be checked.
std::vector<GradcheckEntry> gradcheck_model(Model m, uint64_t seed, int64_t batch, int64_t max_elements = 20,
                                            double eps = kGradcheckEps);

}  // namespace dlc
