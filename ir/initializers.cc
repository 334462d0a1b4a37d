#include "ir/initializers.h"

#include <cmath>
#include <functional>

#include "ir/error.h"
#include "ir/philox.h"

namespace dlc {
namespace {

/// Element e's four random words in the parameter's own stream.
class ParamStream {
 public:
  ParamStream(const std::string& name, uint64_t seed)
      : name_hash_(fnv1a64(name)), key_(philox_key(seed)) {}
  PhiloxCounter words(int64_t e) const {
    return philox4x32_10(philox_counter(static_cast<uint64_t>(e), name_hash_), key_);
  }
  /// Uniform in (0, 1] for element e.
  double uniform(int64_t e) const {
    PhiloxCounter w = words(e);
    return uniform_double_open0(w[0], w[1]);
  }
  /// Standard normal for element e (Box-Muller on two independent uniforms).
  double normal(int64_t e) const {
    PhiloxCounter w = words(e);
    double u1 = uniform_double_open0(w[0], w[1]);
    double u2 = uniform_double_open0(w[2], w[3]);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

 private:
  uint64_t name_hash_;
  PhiloxKey key_;
};

Error param_error(const Parameter& p, const std::string& what) {
  return Error("parameter '" + p.name + "': " + what);
}

void fill(Tensor& t, const std::function<double(int64_t)>& f) {
  for (int64_t e = 0; e < t.numel(); ++e) t[e] = f(e);
}

}  // namespace

void parameter_fans(const std::vector<int64_t>& dims, int64_t* fan_in, int64_t* fan_out) {
  size_t r = dims.size();
  if (r == 0) {
    *fan_in = *fan_out = 1;
  } else if (r == 1) {
    *fan_in = *fan_out = dims[0];
  } else if (r == 2) {
    // dlc's matmul weights are [in, out] (PyTorch's Linear keeps [out, in]).
    *fan_in = dims[0];
    *fan_out = dims[1];
  } else {
    // A convolution weight [out_channels, in_channels, kh, kw, ...]: each
    // output sums in_channels x kernel inputs (PyTorch's rule).
    int64_t receptive = 1;
    for (size_t i = 2; i < r; ++i) receptive *= dims[i];
    *fan_in = dims[1] * receptive;
    *fan_out = dims[0] * receptive;
  }
}

Tensor initialize_parameter(const Parameter& p, uint64_t seed) {
  if (p.type.has_batch()) throw param_error(p, "a parameter cannot have the batch dimension");
  Tensor t(p.type);
  ParamStream rng(p.name, seed);
  int64_t fan_in = 1, fan_out = 1;
  parameter_fans(p.type.dims, &fan_in, &fan_out);
  const proto::Initializer& init = p.init;
  switch (init.kind_case()) {
    case proto::Initializer::kZeros:
      break;
    case proto::Initializer::kConstant:
      fill(t, [&](int64_t) { return init.constant().value(); });
      break;
    case proto::Initializer::kNormal: {
      double mean = init.normal().mean(), std = init.normal().std();
      if (std < 0) throw param_error(p, "normal initializer has negative std " + std::to_string(std));
      fill(t, [&](int64_t e) { return mean + std * rng.normal(e); });
      break;
    }
    case proto::Initializer::kUniform: {
      double lo = init.uniform().lo(), hi = init.uniform().hi();
      if (hi < lo) throw param_error(p, "uniform initializer has hi < lo");
      // uniform() is in (0, 1]; 1 - u is in [0, 1), the usual half-open range.
      fill(t, [&](int64_t e) { return lo + (hi - lo) * (1.0 - rng.uniform(e)); });
      break;
    }
    case proto::Initializer::kXavier: {
      if (fan_in + fan_out <= 0) throw param_error(p, "xavier initializer needs non-empty dims");
      double a = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
      fill(t, [&](int64_t e) { return a * (1.0 - 2.0 * rng.uniform(e)); });
      break;
    }
    case proto::Initializer::kHe: {
      if (fan_in <= 0) throw param_error(p, "he initializer needs fan_in > 0");
      double std = std::sqrt(2.0 / static_cast<double>(fan_in));
      fill(t, [&](int64_t e) { return std * rng.normal(e); });
      break;
    }
    case proto::Initializer::kData: {
      const auto& v = init.data().values();
      if (static_cast<int64_t>(v.size()) != t.numel())
        throw param_error(p, "inline data has " + std::to_string(v.size()) + " values, type " + p.type.str() +
                                 " needs " + std::to_string(t.numel()));
      fill(t, [&](int64_t e) { return v[static_cast<int>(e)]; });
      break;
    }
    case proto::Initializer::KIND_NOT_SET:
      throw param_error(p, "no initializer given");
  }
  if (p.type.dtype == DType::f32)
    for (auto& x : t.data) x = static_cast<double>(static_cast<float>(x));
  // The verifier refuses such numbers first; this guards callers that skip it.
  if (is_float(p.type.dtype))
    for (size_t e = 0; e < t.data.size(); ++e)
      if (!std::isfinite(t.data[e]))
        throw param_error(p, "initial value " + std::to_string(e) + " is not finite (" + std::to_string(t.data[e]) +
                                 "); check the initializer's numbers");
  round_to_dtype(t);
  return t;
}

}  // namespace dlc
