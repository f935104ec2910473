#pragma once
// Ops on the last two dims as matrices: triangles and diagonals (torch.tril,
// triu, diagonal, diag_embed). Any dtype; differentiable (twice) for floating ones.
#include "nabla/tensor/tensor.h"

namespace nabla {

/// x with the entries above the k-th diagonal zeroed ([..., m, n]).
Tensor tril(const Tensor& x, int64_t k = 0);
/// x with the entries below the k-th diagonal zeroed.
Tensor triu(const Tensor& x, int64_t k = 0);
/// The main diagonal of the last two dims, [..., min(m, n)]: a view.
Tensor diagonal(const Tensor& x);
/// [..., k] -> [..., k, k] with v on the diagonal.
Tensor diag_embed(const Tensor& v);
/// x transposed in its last two dims (a view; PyTorch's x.mT).
Tensor mT(const Tensor& x);

}  // namespace nabla
