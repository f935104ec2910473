// linalg: factorizations reconstruct their input, modes and shapes, empty and
// bad inputs. (Values and gradients against PyTorch: peer_ops_test; finite
// differences: gradcheck_test.)
#include <gtest/gtest.h>

#include "nabla/nabla.h"
#include "support/error_of.h"

using namespace nabla;
using nabla::testing::error_of;

namespace {

// Q^T Q = I for a single matrix Q.
bool orthonormal_columns(const Tensor& Q) {
  return allclose(matmul(mT(Q), Q), eye(Q.size(-1), Q.size(-1), Q.dtype()), 1e-9, 1e-9);
}

}  // namespace

TEST(Linalg, SvdReconstructsInEveryMode) {
  Tensor A = randn({2, 5, 3}, DType::f64);
  auto r = linalg::svd(A, false);
  EXPECT_EQ(r.U.sizes(), (Shape{2, 5, 3}));
  EXPECT_EQ(r.Vh.sizes(), (Shape{2, 3, 3}));
  EXPECT_TRUE(allclose(matmul(mul(r.U, r.S.unsqueeze(-2)), r.Vh), A, 1e-10, 1e-10));
  auto f = linalg::svd(A, true);
  EXPECT_EQ(f.U.sizes(), (Shape{2, 5, 5}));
  EXPECT_TRUE(allclose(matmul(mT(f.U), f.U), eye(5, 5, DType::f64).expand({2, 5, 5}), 1e-10, 1e-10));
  std::vector<double> s = r.S.select(0, 0).to_vector<double>();
  EXPECT_TRUE(s[0] >= s[1] && s[1] >= s[2]);
  // Empty: no singular values, identity factors.
  auto e = linalg::svd(zeros({0, 3}, DType::f64));
  EXPECT_EQ(e.S.numel(), 0);
  EXPECT_TRUE(allclose(e.Vh, eye(3, 3, DType::f64)));
  // Full matrices of a non-square input have no backward through U or Vh.
  Tensor B = randn({4, 2}, DType::f64).requires_grad_();
  auto g = linalg::svd(B, true);
  EXPECT_NE(error_of([&] { g.U.sum().backward(); }).find("full_matrices=false"), std::string::npos);
}

TEST(Linalg, EighQrCholeskyReconstruct) {
  Tensor X = randn({3, 4, 4}, DType::f64);
  Tensor S = X + mT(X);
  auto e = linalg::eigh(S);
  EXPECT_TRUE(allclose(matmul(mul(e.eigenvectors, e.eigenvalues.unsqueeze(-2)), mT(e.eigenvectors)), S, 1e-10, 1e-10));
  // Only the named triangle is read.
  EXPECT_TRUE(allclose(linalg::eigvalsh(tril(S)), e.eigenvalues, 1e-10, 1e-10));
  EXPECT_TRUE(allclose(linalg::eigvalsh(triu(S), "U"), e.eigenvalues, 1e-10, 1e-10));
  Tensor A = randn({6, 4}, DType::f64);
  auto q = linalg::qr(A);
  EXPECT_TRUE(orthonormal_columns(q.Q));
  EXPECT_TRUE(allclose(matmul(q.Q, q.R), A, 1e-10, 1e-10));
  EXPECT_TRUE(allclose(q.R, triu(q.R)));
  auto c = linalg::qr(A, "complete");
  EXPECT_EQ(c.Q.sizes(), (Shape{6, 6}));
  EXPECT_TRUE(allclose(matmul(c.Q, c.R), A, 1e-10, 1e-10));
  EXPECT_FALSE(linalg::qr(A, "r").Q.defined());
  Tensor P = matmul(X, mT(X)) + eye(4, 4, DType::f64);
  Tensor L = linalg::cholesky(P);
  EXPECT_TRUE(allclose(matmul(L, mT(L)), P, 1e-10, 1e-10));
  Tensor U = linalg::cholesky(P, true);
  EXPECT_TRUE(allclose(matmul(mT(U), U), P, 1e-10, 1e-10));
}

TEST(Linalg, SolveInvDetAgree) {
  Tensor A = randn({2, 3, 3}, DType::f64) + eye(3, 3, DType::f64) * 3.0;
  Tensor B = randn({2, 3, 2}, DType::f64);
  Tensor X = linalg::solve(A, B);
  EXPECT_TRUE(allclose(matmul(A, X), B, 1e-10, 1e-10));
  EXPECT_TRUE(allclose(matmul(linalg::inv(A), B), X, 1e-10, 1e-10));
  EXPECT_TRUE(allclose(linalg::det(A), linalg::slogdet(A).sign * exp(linalg::slogdet(A).logabsdet), 1e-10, 1e-10));
  // det of a permutation is its sign; of a 0 x 0 matrix, 1.
  Tensor perm = from_vector<double>({0, 1, 1, 0}).reshape({2, 2});
  EXPECT_DOUBLE_EQ(linalg::det(perm).item(), -1.0);
  EXPECT_DOUBLE_EQ(linalg::det(zeros({0, 0}, DType::f64)).item(), 1.0);
  EXPECT_DOUBLE_EQ(linalg::det(zeros({2, 2}, DType::f64)).item(), 0.0);
  Tensor x = linalg::lstsq(randn({5, 2}, DType::f64), randn({5}, DType::f64)).solution;
  EXPECT_EQ(x.sizes(), (Shape{2}));
}

TEST(Linalg, BadInputIsAClearError) {
  EXPECT_NE(error_of([] { linalg::cholesky(from_vector<double>({1, 2, 2, 1}).reshape({2, 2})); })
                .find("not positive-definite"),
            std::string::npos);
  EXPECT_NE(error_of([] { linalg::solve(zeros({2, 2}, DType::f64), ones({2}, DType::f64)); }).find("singular"),
            std::string::npos);
  EXPECT_NE(error_of([] { linalg::inv(zeros({2, 3})); }).find("square"), std::string::npos);
  EXPECT_NE(error_of([] { linalg::svd(zeros({3}, DType::f64)); }).find("[..., m, n]"), std::string::npos);
  EXPECT_NE(error_of([] { linalg::det(zeros({2, 2}, DType::i64)); }).find("f32 or f64"), std::string::npos);
  EXPECT_NE(error_of([] { linalg::solve(eye(3), ones({2, 1})); }).find("do not match"), std::string::npos);
  EXPECT_NE(error_of([] { linalg::qr(eye(2), "thin"); }).find("mode"), std::string::npos);
  EXPECT_NE(error_of([] { linalg::matrix_norm(eye(2), 3.0); }).find("ord"), std::string::npos);
}

TEST(Linalg, MatrixExpOfKnownMatrices) {
  // exp of a rotation generator is the rotation; of a diagonal, the exponentials; of a large norm, scaled and squared.
  const double t = 2.5;
  Tensor gen = from_vector<double>({0, -t, t, 0}, {2, 2});
  EXPECT_TRUE(allclose(linalg::matrix_exp(gen),
                       from_vector<double>({std::cos(t), -std::sin(t), std::sin(t), std::cos(t)}, {2, 2}), 1e-14,
                       1e-14));
  Tensor d = diag_embed(from_vector<double>({-3.0, 0.0, 7.5}));
  EXPECT_TRUE(allclose(linalg::matrix_exp(d), diag_embed(from_vector<double>({std::exp(-3.0), 1.0, std::exp(7.5)})),
                       1e-13, 1e-13));
  Tensor n = from_vector<double>({0, 1, 0, 0}, {2, 2});  // nilpotent: exp = I + N
  EXPECT_TRUE(allclose(linalg::matrix_exp(n * 40.0), from_vector<double>({1, 40, 0, 1}, {2, 2}), 1e-12, 1e-12));
  EXPECT_EQ(linalg::matrix_exp(zeros({3, 0, 0}, DType::f64)).sizes(), (Shape{3, 0, 0}));
  EXPECT_NE(error_of([] { linalg::matrix_exp(zeros({2, 3}, DType::f64)); }).find("linalg.matrix_exp"),
            std::string::npos);
  Tensor bad = from_vector<double>({NAN, 0, 0, 0}, {2, 2});
  EXPECT_NE(error_of([&] { linalg::matrix_exp(bad); }).find("NaN"), std::string::npos);
}

TEST(Linalg, HouseholderProductOfQrFactorsIsQ) {
  // With unit reflections along e_i (A = 0 below the diagonal, tau = 2) each H_i flips coordinate i.
  Tensor q = linalg::householder_product(zeros({4, 3}, DType::f64), full({3}, 2.0, DType::f64));
  EXPECT_TRUE(allclose(q, zeros({4, 3}, DType::f64) - eye(4, 3, DType::f64), 0, 0));
  // Reflections (tau = 2 / |v|^2, v with its implicit unit entry) multiply to orthonormal columns.
  Tensor v = randn({5, 3}, DType::f64);
  Tensor tau = 2.0 / (1.0 + sum(tril(v, -1) * tril(v, -1), {-2}));
  EXPECT_TRUE(orthonormal_columns(linalg::householder_product(tril(v, -1), tau)));
}

TEST(Orthogonal, KeepsTheWeightOrthogonalThroughTraining) {
  for (auto [in, out] : {std::pair<int64_t, int64_t>{4, 4}, {3, 6}, {6, 3}}) {
    manual_seed(5);
    nn::Linear lin(in, out);
    lin.to(DType::f64);
    nn::orthogonal(lin);
    ASSERT_TRUE(nn::is_parametrized(lin, "weight"));
    auto keys = lin.state_dict();
    EXPECT_TRUE(keys.count("parametrizations.weight.original"));
    EXPECT_TRUE(keys.count("parametrizations.weight.0.base"));
    auto orthonormal = [&](const Tensor& w) {
      Tensor m = w.size(0) >= w.size(1) ? w : mT(w);  // columns of the tall view
      return orthonormal_columns(m.detach());
    };
    EXPECT_TRUE(orthonormal(lin.weight));
    optim::SGD opt(lin.parameters(), 0.5);
    for (int step = 0; step < 5; ++step) {
      opt.zero_grad();
      Tensor x = randn({8, in}, DType::f64);
      sum(pow(lin(x) - 1.0, 2.0)).backward();
      opt.step();
    }
    lin(randn({1, in}, DType::f64));  // recompute the weight from the trained original
    EXPECT_TRUE(orthonormal(lin.weight)) << in << "x" << out;
    Tensor w = lin.weight.detach().clone();
    nn::remove_parametrizations(lin, "weight");
    EXPECT_TRUE(allclose(lin.weight, w, 0, 0));
  }
  nn::Linear l(3, 3);
  EXPECT_THROW(nn::orthogonal(l, "weight", std::nullopt, false), Error);
  EXPECT_THROW(nn::orthogonal(l, "bias"), Error);
  EXPECT_THROW(nn::orthogonal(l, "weight", "polar"), Error);
}
