#pragma once
// Normalization layers' functional forms, and dropout.
#include <functional>
#include <optional>
#include <vector>

#include "nabla/tensor/generator.h"
#include "nabla/tensor/tensor.h"

namespace nabla {

/// Batch normalization over [N, C, *]: batch statistics per channel when
/// training (and, if running_mean/var are given, updates them in place with
/// `momentum`, using the unbiased variance as PyTorch does), the running
/// statistics otherwise. weight/bias [C] are optional.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);

/// Sums per-channel statistics in place over more than one process's batch.
using ChannelSumReducer = std::function<void(std::vector<double>& sums)>;

/// batch_norm in training mode whose per-channel sums go through `reduce`
/// before use (forward: the sums of x with the element count appended, then
/// the squared deviations from the mean; backward: the sums of the gradient
/// and of gradient x normalized input): with `reduce` summing them over ranks
/// it is synchronized batch norm (dist::sync_batch_norm), the whole batch's
/// statistics and input gradient on the fused kernel, while the weight and
/// bias gradients stay this process's part. First derivatives only. f32, f64.
Tensor batch_norm_reduced(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                          const Tensor& weight, const Tensor& bias, double momentum, double eps,
                          const ChannelSumReducer& reduce);

/// Normalizes over the trailing dims given by `normalized_shape`.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

/// RMS normalization (Zhang & Sennrich 2019; PyTorch 2.4's F.rms_norm): x
/// divided by the root mean square of its trailing `normalized_shape` dims,
/// x / sqrt(mean(x^2) + eps), times `weight` if given. eps defaults to the
/// machine epsilon of x's dtype, as PyTorch's. A fused row kernel with its
/// composition as reference and second derivative (autograd::Function).
/// f32, f64; bf16/f16 compute in f32.
Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                std::optional<double> eps = std::nullopt);

/// Normalizes [N, C, *] over each of `groups` groups of C/groups channels.
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  double eps = 1e-5);

/// Zeroes each element with probability p and scales the rest by 1/(1-p) when training.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator* gen = nullptr);
/// Zeroes whole channels of [N, C, *] with probability p when training.
Tensor dropout2d(const Tensor& x, double p = 0.5, bool training = true, Generator* gen = nullptr);
/// Stochastic depth (Huang et al. 2016): zeroes each example's whole tensor
/// [N, ...] with probability p and scales the kept ones by 1/(1-p) when training.
Tensor drop_path(const Tensor& x, double p = 0.0, bool training = true, Generator* gen = nullptr);

}  // namespace nabla
