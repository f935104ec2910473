#pragma once
// Linear algebra on the last two dims, batched over the leading ones, with
// torch.linalg's semantics and backward (LAPACK from OpenBLAS underneath).
// dtypes: f32 and f64. Decompositions whose outputs are defined only up to a
// sign (svd, eigh) give well-defined gradients for losses that do not depend
// on that choice; with repeated singular values or eigenvalues the gradient
// of U, V or the eigenvectors is not defined (inf/NaN, as in PyTorch), while
// that of svdvals/eigvalsh stays finite.
#include <string>

#include "nabla/tensor/tensor.h"

namespace nabla::linalg {

/// A = U diag(S) Vh. full_matrices: U [m, m], Vh [n, n]; else U [m, k],
/// Vh [k, n], k = min(m, n). S descending. Backward needs full_matrices = false
/// (or a square A).
struct SVD {
  Tensor U, S, Vh;
};
SVD svd(const Tensor& A, bool full_matrices = true);
/// The singular values alone (descending).
Tensor svdvals(const Tensor& A);

/// A = V diag(L) V^T for symmetric A, reading only its `uplo` ("L" or "U") triangle; L ascending.
struct Eigh {
  Tensor eigenvalues, eigenvectors;
};
Eigh eigh(const Tensor& A, const std::string& uplo = "L");
Tensor eigvalsh(const Tensor& A, const std::string& uplo = "L");

/// A = Q R. mode "reduced": Q [m, k], R [k, n]; "complete": Q [m, m], R [m, n];
/// "r": R only (Q undefined). Backward for m >= n (and mode reduced or square).
struct QR {
  Tensor Q, R;
};
QR qr(const Tensor& A, const std::string& mode = "reduced");

/// The Cholesky factor of symmetric positive-definite A: lower L with A = L L^T
/// (upper: U with A = U^T U). Not positive-definite: an Error naming the minor.
Tensor cholesky(const Tensor& A, bool upper = false);

/// X with A X = B (left) or X A = B; B [..., n] counts as a batch of vectors
/// when it has one dim less than A. Batch dims broadcast. Singular A: an Error.
Tensor solve(const Tensor& A, const Tensor& B, bool left = true);
/// The same for triangular A (only its `upper` or lower triangle is read;
/// unitriangular: its diagonal is taken as ones).
Tensor solve_triangular(const Tensor& A, const Tensor& B, bool upper, bool left = true, bool unitriangular = false);
/// The inverse of square A.
Tensor inv(const Tensor& A);
/// The determinant (0 for a singular A); backward needs A invertible.
Tensor det(const Tensor& A);
/// sign(det A) and log|det A| (sign 0 and log -inf for singular A).
struct Slogdet {
  Tensor sign, logabsdet;
};
Slogdet slogdet(const Tensor& A);
/// The least-squares solution of A X = B for full-rank A: the residual-minimizing
/// X when m >= n, the minimum-norm one when m < n.
struct Lstsq {
  Tensor solution;
};
Lstsq lstsq(const Tensor& A, const Tensor& B);

/// Matrix norms of the last two dims: "fro", "nuc", or ord 2, -2 (largest and
/// smallest singular value), 1, -1 (max, min column sum of |a|), inf, -inf (rows).
Tensor matrix_norm(const Tensor& A, const std::string& ord = "fro", bool keepdim = false);
Tensor matrix_norm(const Tensor& A, double ord, bool keepdim = false);

/// e^A for square A [..., n, n] (torch.linalg.matrix_exp): scaling and squaring
/// of a degree-18 Taylor polynomial, built from matmuls, so it is differentiable
/// to any order. Floating dtypes.
Tensor matrix_exp(const Tensor& A);

/// The first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T with v_i = (0,
/// ..., 0, 1, A[i+1:, i]) (torch.linalg.householder_product, LAPACK's orgqr):
/// A [..., m, n], tau [..., k], m >= n >= k. Differentiable; floating dtypes.
Tensor householder_product(const Tensor& A, const Tensor& tau);

}  // namespace nabla::linalg
