// Linear systems and determinants: solve, solve_triangular, inv, det, slogdet, lstsq.
#include <cmath>

#include "linalg/batched.h"
#include "nabla/autograd/node.h"
#include "nabla/linalg/linalg.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/matrix.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"

namespace nabla::linalg {

namespace {

// A [..., n, n] and B [..., n, k] broadcast to one batch shape.
std::pair<Tensor, Tensor> broadcast_batch(const Tensor& A, const Tensor& B) {
  Shape ba = batch_of(A), bb = batch_of(B);
  Shape batch = broadcast_shapes(ba, bb, "linalg.solve");
  return {A.expand(with(batch, {A.size(-2), A.size(-1)})), B.expand(with(batch, {B.size(-2), B.size(-1)}))};
}

// X = op(A)^{-1} B per matrix, A square: general (LU) or triangular.
Tensor solve_raw(const Tensor& A0, const Tensor& B0, bool triangular, bool upper, bool unit, const char* op) {
  auto [A, B] = broadcast_batch(A0, B0);
  const int64_t n = A.size(-1), k = B.size(-1);
  Tensor X = Tensor::empty(B.sizes(), B.dtype());
  if (n == 0 || k == 0) return X.zero_();
  dispatch_floating(A.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor bc = B.contiguous();
    const T* bp = bc.const_data<T>();
    T* xp = X.data<T>();
    std::vector<T> b(static_cast<size_t>(n * k));
    std::vector<int> piv(static_cast<size_t>(n));
    detail::for_each_matrix<T>(A, [&](int64_t i, T* a) {
      lapack::to_column_major(bp + i * n * k, n, k, b.data());
      const int N = static_cast<int>(n), K = static_cast<int>(k);
      int info = triangular ? lapack::trtrs<T>(upper ? 'U' : 'L', 'N', unit ? 'U' : 'N', N, K, a, N, b.data(), N)
                            : lapack::gesv<T>(N, K, a, N, piv.data(), b.data(), N);
      NABLA_CHECK(info == 0, "{}: the matrix is singular (its U[{}, {}] is 0; matrix {} of {})", op, info - 1,
                  info - 1, i, shape_str(A.sizes()));
      lapack::from_column_major(b.data(), n, k, xp + i * n * k);
    });
  });
  return X;
}

// B as a batch of columns: [..., n] counts as vectors when it has one dim less than A.
bool is_vector_rhs(const Tensor& A, const Tensor& B) {
  return B.dim() == 1 || (B.dim() == A.dim() - 1 && Shape(B.sizes().begin(), B.sizes().end() - 1) == batch_of(A));
}

void check_rhs(const Tensor& A, const Tensor& B, bool left, const char* op) {
  check_matrix(A, op, true);
  NABLA_CHECK(B.defined() && B.dtype() == A.dtype(), "{}: B must have A's dtype {}, got {}", op,
              dtype_name(A.dtype()), B.defined() ? dtype_name(B.dtype()) : "undefined");
  const int64_t n = A.size(-1);
  const bool vec = is_vector_rhs(A, B);
  NABLA_CHECK(vec ? B.size(-1) == n : (B.dim() >= 2 && B.size(left ? -2 : -1) == n),
              "{}: A {} and B {} do not match (B needs {} {} of size {})", op, shape_str(A.sizes()),
              shape_str(B.sizes()), vec ? "its last dim" : "dim", left ? -2 : -1, n);
}

}  // namespace

Tensor solve_triangular(const Tensor& A, const Tensor& B, bool upper, bool left, bool unitriangular) {
  check_rhs(A, B, left, "linalg.solve_triangular");
  NABLA_CHECK(B.dim() >= 2, "linalg.solve_triangular: B must be a matrix [..., n, k], got {}", shape_str(B.sizes()));
  if (!left)  // X A = B  <=>  A^T X^T = B^T
    return mT(solve_triangular(mT(A), mT(B), !upper, true, unitriangular));
  Tensor X = solve_raw(A.detach(), B.detach(), true, upper, unitriangular, "linalg.solve_triangular");
  autograd::record(
      X, "linalg_solve_triangular", {A, B},
      [A, bs = B.sizes(), X = X.detach(), upper, unitriangular](const Tensor& gX) {
        // gB = A^{-T} gX; gA = -gB X^T on A's triangle (its diagonal too unless unit).
        Tensor gB = solve_triangular(mT(A), gX, !upper, true, unitriangular);
        Tensor gA = neg(sum_to(matmul(gB, mT(X)), A.sizes()));
        gA = upper ? triu(gA, unitriangular ? 1 : 0) : tril(gA, unitriangular ? -1 : 0);
        return std::vector<Tensor>{gA, sum_to(gB, bs)};
      },
      {A});
  return X;
}

Tensor solve(const Tensor& A, const Tensor& B, bool left) {
  check_rhs(A, B, left, "linalg.solve");
  if (is_vector_rhs(A, B)) return solve(A, B.unsqueeze(-1), left).squeeze(-1);
  if (!left) return mT(solve(mT(A), mT(B), true));
  Tensor X = solve_raw(A.detach(), B.detach(), false, false, false, "linalg.solve");
  autograd::record(
      X, "linalg_solve", {A, B},
      [A, B, X = X.detach()](const Tensor& gX) {
        Tensor gB = solve(mT(A), gX);
        return std::vector<Tensor>{sum_to(neg(matmul(gB, mT(X))), A.sizes()), sum_to(gB, B.sizes())};
      },
      {A});
  return X;
}

Tensor inv(const Tensor& A) {
  check_matrix(A, "linalg.inv", true);
  const int64_t n = A.size(-1);
  Tensor I = eye(n, n, A.dtype()).expand(A.sizes());
  Tensor Y = solve_raw(A.detach(), I, false, false, false, "linalg.inv");
  autograd::record(
      Y, "linalg_inv", {A},
      [Y = Y.detach()](const Tensor& gY) { return std::vector<Tensor>{neg(matmul(mT(Y), matmul(gY, mT(Y))))}; }, {A});
  return Y;
}

namespace {

// sign(det) and log|det| per matrix, from an LU factorization.
std::pair<Tensor, Tensor> lu_slogdet(const Tensor& A) {
  const int64_t n = A.size(-1);
  Tensor sign = Tensor::empty(batch_of(A), A.dtype()), logabs = Tensor::empty(batch_of(A), A.dtype());
  dispatch_floating(A.dtype(), "linalg.slogdet", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T *sp = sign.data<T>(), *lp = logabs.data<T>();
    if (n == 0) {  // the determinant of an empty matrix is 1
      for (int64_t i = 0; i < sign.numel(); ++i) sp[i] = T(1), lp[i] = T(0);
      return;
    }
    std::vector<int> piv(static_cast<size_t>(n));
    detail::for_each_matrix<T>(A, [&](int64_t b, T* a) {
      lapack::getrf<T>(static_cast<int>(n), static_cast<int>(n), a, static_cast<int>(n), piv.data());
      T s = 1, l = 0;
      for (int64_t i = 0; i < n; ++i) {
        T d = a[i * n + i];
        if (piv[i] != i + 1) s = -s;
        s = d < 0 ? -s : (d == 0 ? T(0) : s);
        l += std::log(std::abs(d));
      }
      sp[b] = s;
      lp[b] = l;
    });
  });
  return {sign, logabs};
}

}  // namespace

Tensor det(const Tensor& A) {
  check_matrix(A, "linalg.det", true);
  auto [sign, logabs] = lu_slogdet(A.detach());
  Tensor d = mul(sign, exp(logabs));
  autograd::record(
      d, "linalg_det", {A},
      [A, d = d.detach()](const Tensor& g) {
        // d det / dA = det A^{-T}.
        return std::vector<Tensor>{mul(mul(g, d).unsqueeze(-1).unsqueeze(-1), mT(inv(A.detach())))};
      },
      {A});
  return d;
}

Slogdet slogdet(const Tensor& A) {
  check_matrix(A, "linalg.slogdet", true);
  auto [sign, logabs] = lu_slogdet(A.detach());
  autograd::record(
      logabs, "linalg_slogdet", {A},
      [A](const Tensor& g) { return std::vector<Tensor>{mul(g.unsqueeze(-1).unsqueeze(-1), mT(inv(A.detach())))}; },
      {A});
  return {sign, logabs};
}

Lstsq lstsq(const Tensor& A, const Tensor& B) {
  check_matrix(A, "linalg.lstsq", false);
  NABLA_CHECK(B.defined() && B.dtype() == A.dtype(), "linalg.lstsq: B must have A's dtype {}", dtype_name(A.dtype()));
  const bool vec = B.dim() == A.dim() - 1;
  Tensor Bm = vec ? B.unsqueeze(-1) : B;
  NABLA_CHECK(Bm.dim() >= 2 && Bm.size(-2) == A.size(-2), "linalg.lstsq: A {} and B {} do not match (B needs {} rows)",
              shape_str(A.sizes()), shape_str(B.sizes()), A.size(-2));
  Tensor X;
  if (A.size(-2) >= A.size(-1)) {
    // Least squares through the reduced QR: X = R^{-1} Q^T B.
    QR f = qr(A);
    X = solve_triangular(f.R, matmul(mT(f.Q), Bm), true);
  } else {
    // Minimum norm: X = Q R^{-T} B from A^T = Q R.
    QR f = qr(mT(A));
    X = matmul(f.Q, solve_triangular(mT(f.R), Bm, false));
  }
  return {vec ? X.squeeze(-1) : X};
}

}  // namespace nabla::linalg
