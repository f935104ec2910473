// The fused layer and batch norm kernels against their compositions, through
// third derivatives (an input-gradient penalty, then a Hessian-vector product):
// their create_graph backward differentiates the composition, so every order
// must agree. (PyTorch 1.13's own F.layer_norm and F.batch_norm disagree with
// their compositions at third order, so the peer test uses the compositions.)
#include <gtest/gtest.h>

#include "nabla/nabla.h"

using namespace nabla;

namespace {

// loss, its gradient and a Hessian-vector product in (w1, g, b, bw, bb).
std::vector<Tensor> penalty_derivatives(bool fused) {
  Generator gen(1);
  auto r = [&](Shape s) { return randn(s, DType::f64, &gen).requires_grad_(); };
  Tensor w1 = r({5, 6}), g = r({6}), b = r({6}), bw = r({3}), bb = r({3});
  Tensor x = r({4, 5});
  Tensor h = matmul(x, w1), t;
  if (fused) {
    t = tanh(layer_norm(h, {6}, g, b)).reshape({4, 3, 2});
  } else {
    Tensor c = h - mean(h, {-1}, true);
    t = tanh(c * pow(mean(c * c, {-1}, true) + 1e-5, -0.5) * g + b).reshape({4, 3, 2});
  }
  Tensor z;
  if (fused) {
    z = batch_norm(t, Tensor(), Tensor(), bw, bb, true);
  } else {
    Tensor c = t - mean(t, {0, 2}, true);
    z = c * pow(mean(c * c, {0, 2}, true) + 1e-5, -0.5) * bw.reshape({1, 3, 1}) + bb.reshape({1, 3, 1});
  }
  Tensor out = pow(z, 2.0).sum();
  Tensor gx = autograd::grad({out}, {x}, {}, std::nullopt, true)[0];
  Tensor loss = out * 0.1 + pow(gx, 2.0).sum();
  std::vector<Tensor> params = {w1, g, b, bw, bb};
  std::vector<Tensor> gr = autograd::grad({loss}, params, {}, std::nullopt, true);
  Tensor dot = zeros({}, DType::f64);
  for (const Tensor& gi : gr) dot = dot + gi.sum();
  std::vector<Tensor> res = {loss};
  for (const Tensor& gi : gr) res.push_back(gi);
  for (const Tensor& hv : autograd::grad({dot}, params)) res.push_back(hv);
  return res;
}

}  // namespace

TEST(NormHigherOrder, FusedNormsMatchTheirCompositionToThirdOrder) {
  const std::vector<Tensor> fused = penalty_derivatives(true), composed = penalty_derivatives(false);
  ASSERT_EQ(fused.size(), composed.size());
  for (size_t i = 0; i < fused.size(); ++i)
    EXPECT_TRUE(allclose(fused[i], composed[i], 1e-9, 1e-11)) << "term " << i << fused[i] << composed[i];
  EXPECT_GT(abs(fused.back()).sum().item(), 1e-6);  // the third-order term is not trivially zero
}
