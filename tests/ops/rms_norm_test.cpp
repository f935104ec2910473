// rms_norm: the fused row kernel against its composition (forward, backward,
// second derivatives), PyTorch 2.4's default eps, the module, bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nabla/nabla.h"
#include "support/error_of.h"

using namespace nabla;
using nabla::testing::error_of;

namespace {

Tensor composite(const Tensor& x, const Tensor& w, double eps) {
  return x * pow(mean(x * x, {-1}, true) + eps, -0.5) * w;
}

void expect_near(const Tensor& a, const Tensor& b, double tol) {
  ASSERT_EQ(a.sizes(), b.sizes());
  auto x = a.to(DType::f64).to_vector<double>(), y = b.to(DType::f64).to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], tol * (1 + std::abs(y[i]))) << i;
}

TEST(RmsNorm, FusedKernelMatchesItsComposition) {
  Generator gen(7);
  for (int64_t R : {1, 7, 64, 257}) {  // vector tails and a row longer than one chunk
    Tensor x = randn({5, 3, R}, DType::f32, &gen).requires_grad_(), w = randn({R}, DType::f32, &gen).requires_grad_();
    Tensor x2 = x.detach().clone().requires_grad_(), w2 = w.detach().clone().requires_grad_();
    Tensor y = rms_norm(x, {R}, w, 1e-6), want = composite(x2, w2, 1e-6);
    expect_near(y, want, 1e-6);
    Tensor g = randn(y.sizes(), DType::f32, &gen);
    y.backward(g);
    want.backward(g);
    expect_near(x.grad(), x2.grad(), 2e-5);
    expect_near(w.grad(), w2.grad(), 2e-5);
  }
}

TEST(RmsNorm, DefaultEpsIsTheDtypesMachineEpsilon) {
  // A row of tiny values: the result depends on eps.
  Tensor x = full({1, 4}, 1e-4, DType::f64);
  const double f32_eps = std::numeric_limits<float>::epsilon(), f64_eps = std::numeric_limits<double>::epsilon();
  EXPECT_NEAR(rms_norm(x, {4}).to_vector<double>()[0], 1e-4 / std::sqrt(1e-8 + f64_eps), 1e-12);
  EXPECT_NEAR(rms_norm(x.to(DType::f32), {4}).to_vector<float>()[0], 1e-4 / std::sqrt(1e-8 + f32_eps), 1e-5);
  // bf16 in, bf16 out, with bf16's epsilon 2^-7 (computed in f32).
  Tensor xb = full({2, 8}, 0.5, DType::bf16);
  Tensor yb = rms_norm(xb, {8});
  EXPECT_EQ(yb.dtype(), DType::bf16);
  EXPECT_NEAR(yb.to(DType::f32).to_vector<float>()[0], 0.5 / std::sqrt(0.25 + 0.0078125), 4e-3);
  // A zero row is zero, not NaN.
  EXPECT_EQ(rms_norm(zeros({1, 3}), {3}).to_vector<float>(), (std::vector<float>{0, 0, 0}));
}

TEST(RmsNorm, SecondDerivativesOfTheCompositionAreTheFusedOnes) {
  Generator gen(8);
  Tensor x = randn({4, 6}, DType::f64, &gen).requires_grad_(), w = randn({6}, DType::f64, &gen).requires_grad_();
  auto hvp = [&](bool fused) {
    Tensor y = fused ? rms_norm(x, {6}, w, 1e-3) : composite(x, w, 1e-3);
    Tensor gx = autograd::grad({pow(y, 3.0).sum()}, {x}, {}, std::nullopt, true)[0];
    return autograd::grad({(gx * gx).sum()}, {x, w});
  };
  auto a = hvp(true), b = hvp(false);
  expect_near(a[0], b[0], 1e-10);
  expect_near(a[1], b[1], 1e-10);
}

TEST(RmsNorm, ModuleAndBadInput) {
  nn::RMSNorm norm({4});
  EXPECT_EQ(norm.state_dict().count("weight"), 1u);
  EXPECT_EQ(norm.extra_repr(), "(4), eps=None, elementwise_affine=True");
  EXPECT_EQ(nn::RMSNorm({2, 3}, 1e-5, false).extra_repr(), "(2, 3), eps=1e-05, elementwise_affine=False");
  Tensor y = norm(randn({2, 4}));
  EXPECT_EQ(y.sizes(), (Shape{2, 4}));
  std::string e = error_of([&] { norm(randn({2, 5})); });
  EXPECT_NE(e.find("rms_norm: input [2, 5] does not end with normalized_shape [4]"), std::string::npos) << e;
  e = error_of([&] { rms_norm(randn({2, 4}), {4}, ones({3})); });
  EXPECT_NE(e.find("weight [3] must have normalized_shape [4]"), std::string::npos) << e;
  EXPECT_NE(error_of([&] { rms_norm(ones({2, 4}, DType::i64), {4}); }).find("floating"), std::string::npos);
  // Empty batches go through, forward and backward.
  Tensor x = zeros({0, 4}).requires_grad_();
  Tensor z = rms_norm(x, {4}, ones({4}));
  EXPECT_EQ(z.sizes(), (Shape{0, 4}));
  z.sum().backward();
  EXPECT_EQ(x.grad().sizes(), (Shape{0, 4}));
}

}  // namespace
