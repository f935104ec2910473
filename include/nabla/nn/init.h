#pragma once
// Parameter initializers (torch.nn.init). Each fills its tensor in place,
// outside autograd, and uses the default generator unless one is passed.
#include <string>

#include "nabla/tensor/generator.h"
#include "nabla/tensor/named_enum.h"
#include "nabla/tensor/tensor.h"

namespace nabla::nn {

struct NonlinearityNames {
  enum Value { linear, identity, conv1d, conv2d, conv_transpose2d, sigmoid, tanh, relu, leaky_relu, selu };
  static constexpr const char* kWhat = "nonlinearity";
  static constexpr std::pair<const char*, Value> kNames[] = {
      {"linear", linear}, {"identity", identity}, {"conv1d", conv1d},   {"conv2d", conv2d},
      {"conv_transpose2d", conv_transpose2d},  {"sigmoid", sigmoid},   {"tanh", tanh},
      {"relu", relu},     {"leaky_relu", leaky_relu}, {"selu", selu}};
};
/// A nonlinearity, for init gains and RNN layers (Nonlinearity::relu or "relu").
using Nonlinearity = NamedEnum<NonlinearityNames>;

}  // namespace nabla::nn

namespace nabla::nn::init {

enum class FanMode { FanIn, FanOut };

/// Recommended gain for a nonlinearity: 1 for linear, identity, the convolutions
/// and sigmoid; 5/3 tanh; sqrt(2) relu; sqrt(2 / (1 + param^2)) leaky_relu
/// (param = negative slope); 3/4 selu.
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);
/// (fan_in, fan_out) of a weight: dim 1 and dim 0 times the receptive field.
std::pair<int64_t, int64_t> calculate_fans(const Tensor& t);

void uniform_(Tensor t, double a = 0.0, double b = 1.0, Generator* gen = nullptr);
void normal_(Tensor t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);
void constant_(Tensor t, double value);
void zeros_(Tensor t);
void ones_(Tensor t);
/// He initialization, uniform: bound = gain * sqrt(3 / fan).
void kaiming_uniform_(Tensor t, double a = 0.0, FanMode mode = FanMode::FanIn,
                      Nonlinearity nonlinearity = Nonlinearity::leaky_relu, Generator* gen = nullptr);
/// He initialization, normal: std = gain / sqrt(fan).
void kaiming_normal_(Tensor t, double a = 0.0, FanMode mode = FanMode::FanIn,
                     Nonlinearity nonlinearity = Nonlinearity::leaky_relu, Generator* gen = nullptr);
/// Glorot: bound = gain * sqrt(6 / (fan_in + fan_out)).
void xavier_uniform_(Tensor t, double gain = 1.0, Generator* gen = nullptr);
void xavier_normal_(Tensor t, double gain = 1.0, Generator* gen = nullptr);
/// A (semi-)orthogonal matrix (rows of the tensor flattened from dim 1), scaled by gain.
void orthogonal_(Tensor t, double gain = 1.0, Generator* gen = nullptr);
/// Normal(mean, std) restricted to [a, b] (resampled until inside).
void trunc_normal_(Tensor t, double mean = 0.0, double std = 1.0, double a = -2.0, double b = 2.0,
                   Generator* gen = nullptr);

}  // namespace nabla::nn::init
