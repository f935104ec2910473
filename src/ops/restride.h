#pragma once
// Internal view construction without autograd.
#include "nabla/tensor/tensor.h"

namespace nabla::detail {

/// A tensor over `base`'s storage with the given geometry; records no history.
Tensor restride(const Tensor& base, Shape sizes, Shape strides, int64_t offset);

/// Resolves one -1 in `requested` against `numel`; `op` and `from` name the caller in errors.
Shape infer_size(const Shape& requested, int64_t numel, const char* op, const Shape& from);

}  // namespace nabla::detail
