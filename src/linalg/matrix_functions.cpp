// Matrix functions built from matmuls (so differentiable to any order): the
// exponential and products of Householder reflections.
#include <cmath>

#include "linalg/batched.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/linalg/linalg.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/indexing.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"

namespace nabla::linalg {

using indexing::Ellipsis;
using indexing::Slice;

Tensor matrix_exp(const Tensor& A) {
  detail::check_matrix(A, "linalg.matrix_exp", true);
  const int64_t n = A.size(-1);
  if (A.numel() == 0) return A.clone();
  // Scale A by 2^-s until its infinity norm is at most 1/2: the Taylor
  // remainder after degree 18 is then below 0.5^19 / 19! (~1e-23), under f64's
  // rounding; square s times to undo the scaling.
  double norm;
  {
    NoGradGuard ng;
    norm = max(sum(abs(A), {-1})).to(DType::f64).item();
  }
  NABLA_CHECK(std::isfinite(norm), "linalg.matrix_exp: the matrix holds NaN or Inf");
  const int s = norm > 0.5 ? static_cast<int>(std::ceil(std::log2(norm / 0.5))) : 0;
  const Tensor B = s ? A * std::ldexp(1.0, -s) : A;
  const Tensor I = eye(n, n, A.dtype());
  Tensor T = I;
  for (int k = 18; k >= 1; --k) T = I + matmul(B, T) / static_cast<double>(k);  // Horner
  for (int i = 0; i < s; ++i) T = matmul(T, T);
  return T;
}

Tensor householder_product(const Tensor& A, const Tensor& tau) {
  detail::check_matrix(A, "linalg.householder_product", false);
  const int64_t m = A.size(-2), n = A.size(-1);
  NABLA_CHECK(tau.dim() >= 1 && tau.size(-1) <= n && m >= n,
              "linalg.householder_product: needs A [..., m, n] with m >= n and tau [..., k] with k <= n, got {} and {}",
              shape_str(A.sizes()), shape_str(tau.sizes()));
  NABLA_CHECK(tau.dtype() == A.dtype(), "linalg.householder_product: tau is {}, A is {}", dtype_name(tau.dtype()),
              dtype_name(A.dtype()));
  const int64_t k = tau.size(-1);
  Tensor Q = eye(m, n, A.dtype()) + zeros_like(A);  // broadcast to A's batch
  const Tensor rows = arange(static_cast<double>(m), DType::i64);
  // Q = H_1 (H_2 (... (H_k I))): each reflection applied as Q - tau v (v^T Q).
  for (int64_t i = k - 1; i >= 0; --i) {
    const Tensor below = (rows > static_cast<double>(i)).to(A.dtype());
    const Tensor unit = (rows == static_cast<double>(i)).to(A.dtype());
    const Tensor v = (A.index({Ellipsis, Slice(), i}) * below + unit).unsqueeze(-1);  // [..., m, 1]
    const Tensor t = tau.index({Ellipsis, i}).unsqueeze(-1).unsqueeze(-1);
    Q = Q - t * matmul(v, matmul(v.transpose(-1, -2), Q));
  }
  return Q;
}

}  // namespace nabla::linalg
