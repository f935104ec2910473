#pragma once
// Raw element copy between tensors (no autograd): broadcasting and dtype conversion.
#include "nabla/tensor/tensor.h"

namespace nabla::detail {

/// dst[...] = convert(src[...]), src broadcast to dst's shape; dst may be strided.
void copy_raw(const Tensor& dst, const Tensor& src);

/// x converted to dtype t without recording autograd (x itself when it has t).
Tensor cast_raw(const Tensor& x, DType t);

}  // namespace nabla::detail
