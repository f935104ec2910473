// svd, eigh, qr and cholesky: LAPACK forward, torch.linalg's backward formulas
// written with recorded ops.
#include <cmath>

#include "linalg/batched.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/linalg/linalg.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/matrix.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"

namespace nabla::linalg {

namespace {

Tensor skew(const Tensor& X) { return sub(X, mT(X)); }

// E[..., j, k] = x_k - x_j off the diagonal, 1 on it: the denominators of the
// spectral backward formulas.
Tensor gaps(const Tensor& x) {
  Tensor e = sub(x.unsqueeze(-2), x.unsqueeze(-1));
  return add(e, eye(x.size(-1), x.size(-1), x.dtype()));
}

// torch.linalg.svd's backward (reduced factors; U [m, k], S [k], Vh [k, n]).
Tensor svd_backward(const Tensor& gU, const Tensor& gS, const Tensor& gVh, const Tensor& U, const Tensor& S,
                    const Tensor& Vh) {
  const int64_t m = U.size(-2), n = Vh.size(-1), k = S.size(-1);
  if (!gU.defined() && !gVh.defined()) return matmul(mul(U, gS.unsqueeze(-2)), Vh);
  Tensor E = gaps(mul(S, S));
  Tensor inner;
  if (gU.defined() && gVh.defined()) {
    Tensor UhgU = skew(matmul(mT(U), gU)), VhgV = skew(matmul(Vh, mT(gVh)));
    inner = div(add(mul(UhgU, S.unsqueeze(-2)), mul(S.unsqueeze(-1), VhgV)), E);
  } else if (gU.defined()) {
    inner = mul(div(skew(matmul(mT(U), gU)), E), S.unsqueeze(-2));
  } else {
    inner = mul(S.unsqueeze(-1), div(skew(matmul(Vh, mT(gVh))), E));
  }
  if (gS.defined()) inner = add(inner, diag_embed(gS));
  if (m > k && gU.defined()) {
    Tensor gUSinv = div(gU, S.unsqueeze(-2));
    Tensor g = add(matmul(U, inner), sub(gUSinv, matmul(U, matmul(mT(U), gUSinv))));
    return matmul(g, Vh);
  }
  if (n > k && gVh.defined()) {
    Tensor SinvgVh = div(gVh, S.unsqueeze(-1));
    Tensor g = add(matmul(inner, Vh), sub(SinvgVh, matmul(matmul(SinvgVh, mT(Vh)), Vh)));
    return matmul(U, g);
  }
  return matmul(U, matmul(inner, Vh));
}

}  // namespace

SVD svd(const Tensor& A, bool full_matrices) {
  check_matrix(A, "linalg.svd", false);
  const int64_t m = A.size(-2), n = A.size(-1), k = std::min(m, n);
  const int64_t ucols = full_matrices ? m : k, vrows = full_matrices ? n : k;
  const Shape batch = batch_of(A);
  SVD r{Tensor::empty(with(batch, {m, ucols}), A.dtype()), Tensor::empty(with(batch, {k}), A.dtype()),
        Tensor::empty(with(batch, {vrows, n}), A.dtype())};
  if (k == 0) {  // nothing to factor: the full factors are identities
    r.U = full_matrices ? eye(m, m, A.dtype()).expand(with(batch, {m, m})).contiguous() : r.U.zero_();
    r.Vh = full_matrices ? eye(n, n, A.dtype()).expand(with(batch, {n, n})).contiguous() : r.Vh.zero_();
  } else {
    dispatch_floating(A.dtype(), "linalg.svd", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T *U = r.U.data<T>(), *S = r.S.data<T>(), *Vh = r.Vh.data<T>();
      std::vector<T> u(static_cast<size_t>(m * ucols)), vt(static_cast<size_t>(vrows * n));
      detail::for_each_matrix<T>(A, [&](int64_t b, T* col) {
        int info = lapack::gesdd<T>(full_matrices ? 'A' : 'S', static_cast<int>(m), static_cast<int>(n), col,
                                    static_cast<int>(m), S + b * k, u.data(), static_cast<int>(m), vt.data(),
                                    static_cast<int>(vrows));
        NABLA_CHECK(info == 0, "linalg.svd: the algorithm did not converge (LAPACK gesdd info {}) for matrix {} of {}",
                    info, b, shape_str(A.sizes()));
        lapack::from_column_major(u.data(), m, ucols, U + b * m * ucols);
        lapack::from_column_major(vt.data(), vrows, n, Vh + b * vrows * n);
      });
    });
  }
  const bool square = m == n;
  autograd::record_outputs(
      {r.U, r.S, r.Vh}, "linalg_svd", {A},
      [U = r.U.detach(), S = r.S.detach(), Vh = r.Vh.detach(), full_matrices, square,
       k](const std::vector<Tensor>& g) {
        NABLA_CHECK(!full_matrices || square || (!g[0].defined() && !g[2].defined()),
                    "linalg.svd: backward through U or Vh of a non-square matrix needs full_matrices=false");
        Tensor u = full_matrices ? U.narrow(-1, 0, k) : U, vh = full_matrices ? Vh.narrow(-2, 0, k) : Vh;
        return std::vector<Tensor>{svd_backward(g[0], g[1], g[2], u, S, vh)};
      },
      {});
  return r;
}

Tensor svdvals(const Tensor& A) { return svd(A, false).S; }

Eigh eigh(const Tensor& A, const std::string& uplo) {
  check_matrix(A, "linalg.eigh", true);
  NABLA_CHECK(uplo == "L" || uplo == "U", "linalg.eigh: uplo must be \"L\" or \"U\", got \"{}\"", uplo);
  const int64_t n = A.size(-1);
  const Shape batch = batch_of(A);
  Eigh r{Tensor::empty(with(batch, {n}), A.dtype()), Tensor::empty(with(batch, {n, n}), A.dtype())};
  if (n > 0)
    dispatch_floating(A.dtype(), "linalg.eigh", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T *L = r.eigenvalues.data<T>(), *V = r.eigenvectors.data<T>();
      detail::for_each_matrix<T>(A, [&](int64_t b, T* col) {
        int info = lapack::syevd<T>('V', uplo[0], static_cast<int>(n), col, static_cast<int>(n), L + b * n);
        NABLA_CHECK(info == 0, "linalg.eigh: the algorithm did not converge (LAPACK syevd info {}) for matrix {} of {}",
                    info, b, shape_str(A.sizes()));
        lapack::from_column_major(col, n, n, V + b * n * n);
      });
    });
  autograd::record_outputs(
      {r.eigenvalues, r.eigenvectors}, "linalg_eigh", {A},
      [L = r.eigenvalues.detach(), V = r.eigenvectors.detach()](const std::vector<Tensor>& g) {
        // gA = V (diag(gL) + skew(V^T gV) / 2 / E) V^T, E_jk = L_k - L_j: symmetric by construction.
        Tensor inner = g[1].defined() ? div(mul(skew(matmul(mT(V), g[1])), 0.5), gaps(L)) : zeros_like(V);
        if (g[0].defined()) inner = add(inner, diag_embed(g[0]));
        return std::vector<Tensor>{matmul(V, matmul(inner, mT(V)))};
      },
      {});
  return r;
}

Tensor eigvalsh(const Tensor& A, const std::string& uplo) { return eigh(A, uplo).eigenvalues; }

QR qr(const Tensor& A, const std::string& mode) {
  check_matrix(A, "linalg.qr", false);
  NABLA_CHECK(mode == "reduced" || mode == "complete" || mode == "r",
              "linalg.qr: mode must be \"reduced\", \"complete\" or \"r\", got \"{}\"", mode);
  const int64_t m = A.size(-2), n = A.size(-1), k = std::min(m, n);
  const bool complete = mode == "complete";
  const int64_t qcols = complete ? m : k, rrows = complete ? m : k;
  const Shape batch = batch_of(A);
  Tensor Q = Tensor::empty(with(batch, {m, qcols}), A.dtype()), R = zeros(with(batch, {rrows, n}), A.dtype());
  dispatch_floating(A.dtype(), "linalg.qr", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T *q = Q.data<T>(), *rp = R.data<T>();
    std::vector<T> tau(static_cast<size_t>(std::max<int64_t>(k, 1))), qbuf(static_cast<size_t>(m * qcols));
    if (m * n == 0) {
      Q.copy_(eye(m, qcols, A.dtype()));
      return;
    }
    detail::for_each_matrix<T>(A, [&](int64_t b, T* col) {
      int info = lapack::geqrf<T>(static_cast<int>(m), static_cast<int>(n), col, static_cast<int>(m), tau.data());
      NABLA_CHECK(info == 0, "linalg.qr: LAPACK geqrf failed (info {})", info);
      for (int64_t i = 0; i < rrows; ++i)
        for (int64_t j = i; j < n; ++j) rp[b * rrows * n + i * n + j] = i < m ? col[j * m + i] : T(0);
      std::copy(col, col + m * std::min(n, qcols), qbuf.begin());
      info = lapack::orgqr<T>(static_cast<int>(m), static_cast<int>(qcols), static_cast<int>(k), qbuf.data(),
                              static_cast<int>(m), tau.data());
      NABLA_CHECK(info == 0, "linalg.qr: LAPACK orgqr failed (info {})", info);
      lapack::from_column_major(qbuf.data(), m, qcols, q + b * m * qcols);
    });
  });
  if (mode == "r") Q = Tensor();
  std::vector<Tensor> outs{Q, R};
  autograd::record_outputs(
      outs, "linalg_qr", {A},
      [Qd = Q.defined() ? Q.detach() : Tensor(), Rd = R.detach(), m, n](const std::vector<Tensor>& g) {
        NABLA_CHECK(Qd.defined(), "linalg.qr: mode \"r\" has no backward (use mode \"reduced\")");
        NABLA_CHECK(m >= n && Qd.size(-1) == n,
                    "linalg.qr: backward is implemented for m >= n with mode \"reduced\" (got a {} x {} input)", m, n);
        // gA = (gQ + Q N) R^{-T}, M = gR R^T - Q^T gQ, N = triu(M) + triu(M, 1)^T.
        Tensor M = g[1].defined() ? matmul(g[1], mT(Rd)) : zeros({n, n}, Rd.dtype());
        if (g[0].defined()) M = sub(M, matmul(mT(Qd), g[0]));
        Tensor N = add(triu(M), mT(triu(M, 1)));
        Tensor lhs = matmul(Qd, N);
        if (g[0].defined()) lhs = add(lhs, g[0]);
        return std::vector<Tensor>{solve_triangular(mT(Rd), lhs, false, false)};
      },
      {});
  return {outs[0], outs[1]};
}

Tensor cholesky(const Tensor& A, bool upper) {
  check_matrix(A, "linalg.cholesky", true);
  const int64_t n = A.size(-1);
  Tensor L = zeros(A.sizes(), A.dtype());
  if (n > 0)
    dispatch_floating(A.dtype(), "linalg.cholesky", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* l = L.data<T>();
      detail::for_each_matrix<T>(A, [&](int64_t b, T* col) {
        int info = lapack::potrf<T>('L', static_cast<int>(n), col, static_cast<int>(n));
        NABLA_CHECK(info == 0,
                    "linalg.cholesky: the input is not positive-definite (the leading minor of order {} of matrix "
                    "{} of {} is not positive-definite)",
                    info, b, shape_str(A.sizes()));
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j <= i; ++j) l[b * n * n + i * n + j] = col[j * n + i];
      });
    });
  autograd::record(
      L, "linalg_cholesky", {A},
      [Ld = L.detach()](const Tensor& gL) {
        // gA = L^{-T} Phi(L^T gL) L^{-1}, symmetrized; Phi: the lower triangle, diagonal halved.
        Tensor P = tril(matmul(mT(Ld), tril(gL)));
        P = sub(P, mul(diag_embed(diagonal(P)), 0.5));
        Tensor X = solve_triangular(mT(Ld), P, true, true);   // L^{-T} P
        Tensor gA = solve_triangular(Ld, X, false, false);    // ... L^{-1}
        return std::vector<Tensor>{mul(add(gA, mT(gA)), 0.5)};
      },
      {});
  return upper ? mT(L).contiguous() : L;
}

}  // namespace nabla::linalg
