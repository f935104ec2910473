#pragma once
// Reductions over any set of dims, with keepdim.
#include <utility>

#include "nabla/tensor/tensor.h"

namespace nabla {

/// Sum of all elements (0-dim result).
Tensor sum(const Tensor& x);
/// Sum over `dims` (an empty list reduces every dim).
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Shape& dims, bool keepdim = false);
/// Variance; `unbiased` divides by N-1 (Bessel's correction) as PyTorch's default.
Tensor var(const Tensor& x, const Shape& dims, bool unbiased = true, bool keepdim = false);
Tensor std(const Tensor& x, const Shape& dims, bool unbiased = true, bool keepdim = false);
/// Maximum of all elements (0-dim); gradient split evenly among ties.
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
/// (values, indices) of the maximum along `dim`; indices are i64.
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim = false);
/// Maximum over several dims (values only).
Tensor amax(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor amin(const Tensor& x, const Shape& dims, bool keepdim = false);
/// Index of the maximum along `dim` (first one on ties).
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
/// log(sum(exp(x))) over `dims`, computed stably.
Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim = false);
/// p-norm over `dims` (all dims when empty); p may be INFINITY.
Tensor norm(const Tensor& x, double p = 2.0, const Shape& dims = {}, bool keepdim = false);

/// Sums `g` down to `shape` (the reverse of broadcasting): the gradient of expand.
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace nabla
