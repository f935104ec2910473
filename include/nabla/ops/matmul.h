#pragma once
// Matrix products through BLAS GEMM.
#include "nabla/tensor/tensor.h"

namespace nabla {

/// torch.matmul semantics: dot for 1-D x 1-D, matrix product for 2-D, and
/// batched products with broadcast batch dims for more; 1-D operands get a
/// dim prepended (left) or appended (right) that is removed afterwards.
Tensor matmul(const Tensor& a, const Tensor& b);
/// 2-D matrix product [n, k] x [k, m].
Tensor mm(const Tensor& a, const Tensor& b);
/// y = x W^T + b over the last dim of x; weight is [out, in], bias [out] or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace nabla
