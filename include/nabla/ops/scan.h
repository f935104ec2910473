#pragma once
// Prefix scans along one dim: the primitives of parallel linear recurrences
// (minGRU and minLSTM evaluate h_t = a_t h_{t-1} + b_t for all t with them).
#include "nabla/tensor/tensor.h"

namespace nabla {

/// y_t = x_0 + ... + x_t along `dim`.
Tensor cumsum(const Tensor& x, int64_t dim);
/// y_t = log(exp(x_0) + ... + exp(x_t)) along `dim`, computed stably (running
/// maximum); -inf entries contribute nothing.
Tensor logcumsumexp(const Tensor& x, int64_t dim);

}  // namespace nabla
