#pragma once
// Memory layouts beyond row-major. A tensor's shape never changes with its
// layout: a channels-last image batch is still [N, C, H, W], only its strides
// say that C is innermost in memory (as PyTorch's torch.channels_last).
// oneDNN's convolutions read and write channels-last directly, so a network of
// convolutions, batch norms and elementwise ops that keeps it needs no reorders.
#include <vector>

#include "nabla/tensor/tensor.h"

namespace nabla {

/// Uninitialized tensor of `sizes` whose dims nest in memory as `order` says
/// (outermost first; {0, 2, 3, 1} is channels-last for 4-D).
Tensor empty_in_order(const Shape& sizes, const std::vector<int64_t>& order, DType dtype);

/// Uninitialized 4-D tensor [N, C, H, W] stored channels-last (empty_in_order with {0, 2, 3, 1}).
Tensor empty_channels_last(const Shape& sizes, DType dtype);

/// Uninitialized tensor shaped like `like` and laid out in the same dim order
/// when `like` is dense (so a channels-last input gives a channels-last
/// result); contiguous otherwise.
Tensor empty_like_layout(const Tensor& like, DType dtype);

/// True for a 4-D tensor stored channels-last: [N, C, H, W] with C innermost.
bool is_channels_last(const Tensor& t);

/// `t` (4-D) stored channels-last: `t` itself when it already is, else a copy
/// without autograd history (for kernels).
Tensor channels_last_copy(const Tensor& t);

/// `t` stored row-major: `t` itself when it already is, else a copy without
/// autograd history (for kernels).
Tensor contiguous_copy(const Tensor& t);

}  // namespace nabla
