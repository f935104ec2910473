#include "nabla/train/ntk.h"

#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.h"

using namespace nabla;

namespace {

Tensor sphere_points(int64_t n, int64_t d, uint64_t seed) {
  Generator g(seed);
  Tensor x = randn({n, d}, DType::f64, &g);
  return x / sqrt(sum(square(x), {1}, true)) * std::sqrt(double(d));
}

double rel_frobenius(const Tensor& a, const Tensor& b) {
  return std::sqrt(sum(square(a - b)).item() / sum(square(b)).item());
}

}  // namespace

TEST(Ntk, EmpiricalKernelIsTheJacobianGram) {
  // For a linear model f(x) = w . x + b the NTK is x . x' + 1, exactly.
  nn::Linear lin(3, 1);
  lin.to(DType::f64);
  Tensor x = randn({4, 3}, DType::f64), z = randn({2, 3}, DType::f64);
  Tensor K = train::empirical_ntk(lin, x, z);
  ASSERT_EQ(K.sizes(), (Shape{4, 2}));
  EXPECT_LT(max(abs(K - (matmul(x, z.t()) + 1.0))).item(), 1e-12);
  Tensor Kxx = train::empirical_ntk(lin, x);
  EXPECT_LT(max(abs(Kxx - Kxx.t())).item(), 1e-12);
}

TEST(Ntk, ClosedFormKernelsKeepTheNormsOfHeInitialization) {
  // sigma_w^2 = 2, no bias: E[relu(u)^2] = s / 2, so every layer keeps the diagonal x.x / d, and the NTK's
  // diagonal grows by it per layer: (depth + 1) x.x / d.
  Tensor x = sphere_points(5, 6, 1);
  for (int64_t depth : {0, 1, 3}) {
    train::MlpKernels k = train::relu_mlp_kernels(x, x, depth);
    std::vector<double> nngp = k.nngp.to_vector<double>(), ntk = k.ntk.to_vector<double>();
    for (int64_t i = 0; i < 5; ++i) {
      EXPECT_NEAR(nngp[i * 5 + i], 2.0, 1e-12) << depth;
      // acos at an angle of 0 resolves only sqrt(epsilon).
      EXPECT_NEAR(ntk[i * 5 + i], 2.0 * double(depth + 1), 1e-6) << depth;
    }
  }
}

TEST(Ntk, EmpiricalKernelApproachesTheClosedFormAsTheNetworkWidens) {
  Tensor x = sphere_points(6, 4, 2);
  const train::MlpKernels exact = train::relu_mlp_kernels(x, x, 2, 2.0, 0.1);
  double err[2] = {0, 0};
  const int64_t widths[2] = {16, 1024};
  for (int w = 0; w < 2; ++w)
    for (uint64_t seed = 0; seed < 3; ++seed) {
      manual_seed(seed);
      train::NtkMlp net(4, widths[w], 2, 1, 2.0, 0.1);
      net.to(DType::f64);
      err[w] += rel_frobenius(train::empirical_ntk(net, x), exact.ntk) / 3;
    }
  EXPECT_LT(err[1], 0.1);
  EXPECT_LT(err[1], err[0] / 3);
}

TEST(Ntk, KernelRidgeInterpolatesAsAlphaVanishes) {
  Tensor x = sphere_points(8, 3, 4);
  Tensor y = sin(sum(x, {1}));
  Tensor K = train::relu_mlp_kernels(x, x, 1).ntk;
  Tensor fit = train::kernel_ridge(K, y, K, 1e-10);
  EXPECT_LT(max(abs(fit.reshape({-1}) - y)).item(), 1e-6);
  Tensor smooth = train::kernel_ridge(K, y, K, 1e3);
  EXPECT_LT(max(abs(smooth)).item(), 0.1);  // heavy regularization pulls toward 0
}

TEST(Ntk, KernelRidgeOnTheEmpiricalKernelOfAWideNetMatchesTheClosedForm) {
  Tensor x = sphere_points(12, 4, 5), z = sphere_points(5, 4, 6);
  Tensor y = sin(x.select(1, 0)) + x.select(1, 1) * 0.5;
  manual_seed(3);
  train::NtkMlp net(4, 2048, 1, 1);
  net.to(DType::f64);
  Tensor emp = train::kernel_ridge(train::empirical_ntk(net, x), y, train::empirical_ntk(net, z, x), 0.1);
  train::MlpKernels xx = train::relu_mlp_kernels(x, x, 1), zx = train::relu_mlp_kernels(z, x, 1);
  Tensor exact = train::kernel_ridge(xx.ntk, y, zx.ntk, 0.1);
  EXPECT_LT(rel_frobenius(emp, exact), 0.1);
}
