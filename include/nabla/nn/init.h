#pragma once
// Parameter initializers (torch.nn.init). Each fills its tensor in place,
// outside autograd, and uses the default generator unless one is passed.
#include <string>

#include "nabla/tensor/generator.h"
#include "nabla/tensor/tensor.h"

namespace nabla::nn::init {

enum class FanMode { FanIn, FanOut };

/// Recommended gain for a nonlinearity: "linear", "conv2d", "sigmoid", "tanh",
/// "relu", "leaky_relu" (param = negative slope), "selu".
double calculate_gain(const std::string& nonlinearity, double param = 0.01);
/// (fan_in, fan_out) of a weight: dim 1 and dim 0 times the receptive field.
std::pair<int64_t, int64_t> calculate_fans(const Tensor& t);

void uniform_(Tensor t, double a = 0.0, double b = 1.0, Generator* gen = nullptr);
void normal_(Tensor t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);
void constant_(Tensor t, double value);
void zeros_(Tensor t);
void ones_(Tensor t);
/// He initialization, uniform: bound = gain * sqrt(3 / fan).
void kaiming_uniform_(Tensor t, double a = 0.0, FanMode mode = FanMode::FanIn,
                      const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
/// He initialization, normal: std = gain / sqrt(fan).
void kaiming_normal_(Tensor t, double a = 0.0, FanMode mode = FanMode::FanIn,
                     const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
/// Glorot: bound = gain * sqrt(6 / (fan_in + fan_out)).
void xavier_uniform_(Tensor t, double gain = 1.0, Generator* gen = nullptr);
void xavier_normal_(Tensor t, double gain = 1.0, Generator* gen = nullptr);
/// A (semi-)orthogonal matrix (rows of the tensor flattened from dim 1), scaled by gain.
void orthogonal_(Tensor t, double gain = 1.0, Generator* gen = nullptr);
/// Normal(mean, std) restricted to [a, b] (resampled until inside).
void trunc_normal_(Tensor t, double mean = 0.0, double std = 1.0, double a = -2.0, double b = 2.0,
                   Generator* gen = nullptr);

}  // namespace nabla::nn::init
