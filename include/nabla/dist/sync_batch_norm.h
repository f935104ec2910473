#pragma once
// Batch normalization whose training statistics cover every rank's batch.
#include <memory>

#include "nabla/dist/process_group.h"
#include "nabla/nn/module.h"

namespace nabla::dist {

/// x summed over `group` (a new tensor; every rank gets the sum). Differentiable:
/// its gradient is the group's sum of the ranks' gradients, which is the
/// gradient of the sum of every rank's loss. f32, f64.
Tensor all_reduce_sum(const Tensor& x, const std::shared_ptr<ProcessGroup>& group);

/// batch_norm in training mode with the mean and variance of the batch of all
/// of `group`'s ranks together ([N, C, *] per rank, N may differ): what one
/// process with the ranks' batches concatenated computes, forward and backward.
/// running_mean/var (optional) are updated with the global statistics (the
/// unbiased variance, as PyTorch). The fused batch-norm kernel with its sums
/// all-reduced (ops' batch_norm_reduced): two all-reduces of C values forward
/// (the sums, then the squared deviations: no cancellation), one of 2C
/// backward. The weight and bias gradients are this rank's part, summed over
/// the ranks with the other gradients. First derivatives only. f32, f64.
Tensor sync_batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, double momentum, double eps, const std::shared_ptr<ProcessGroup>& group);

/// Makes every BatchNorm1d/2d of `model` normalize with statistics over
/// `group`'s batch while training (PyTorch's SyncBatchNorm.convert_sync_batchnorm);
/// evaluation still uses the running statistics. Parameter names and the
/// state_dict are unchanged. Returns how many layers it converted.
int64_t convert_sync_batchnorm(nn::Module& model, std::shared_ptr<ProcessGroup> group);

}  // namespace nabla::dist
