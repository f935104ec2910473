#pragma once
// Activation functions and (log-)softmax.
#include <string>

#include "nabla/tensor/named_enum.h"
#include "nabla/tensor/tensor.h"

namespace nabla {

struct GeluApproximationNames {
  enum Value { none, tanh };
  static constexpr const char* kWhat = "gelu: approximate";
  static constexpr std::pair<const char*, Value> kNames[] = {{"none", none}, {"tanh", tanh}};
};
/// gelu's form: GeluApproximation::none (exact, with erf) or ::tanh; PyTorch's strings work too.
using GeluApproximation = NamedEnum<GeluApproximationNames>;

Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor elu(const Tensor& x, double alpha = 1.0);
/// x Phi(x); `approximate` none (exact, erf) or tanh. f32/f64 (16-bit floats compute in f32).
Tensor gelu(const Tensor& x, GeluApproximation approximate = GeluApproximation::none);
Tensor silu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
/// log(1 + exp(beta x)) / beta, linear above `threshold` (as PyTorch).
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor softmax(const Tensor& x, int64_t dim);
/// log(softmax(x)) computed stably (max subtracted first).
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace nabla
