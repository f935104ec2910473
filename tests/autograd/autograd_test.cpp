#include <gtest/gtest.h>

#include "nabla/nabla.h"

using namespace nabla;

TEST(Autograd, ChainRuleAndAccumulation) {
  Tensor x = from_vector<double>({1, 2, 3}).requires_grad_();
  Tensor y = (x * x).sum();  // dy/dx = 2x
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 4, 6}));
  (x * 3.0).sum().backward();  // accumulates
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5, 7, 9}));
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(y.is_leaf());
}

TEST(Autograd, SharedSubexpressionsSumTheirGradients) {
  Tensor x = scalar_tensor(3.0, DType::f64).requires_grad_();
  Tensor a = x * 2.0;
  Tensor b = a * a + a;  // b = 4x^2 + 2x, db/dx = 8x + 2
  b.backward();
  EXPECT_DOUBLE_EQ(x.grad().item(), 26.0);
}

TEST(Autograd, NonScalarNeedsAGradient) {
  Tensor x = ones({3}).requires_grad_();
  Tensor y = x * 2.0;
  EXPECT_THROW(y.backward(), Error);
  y.backward(from_vector<float>({1, 0, 2}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 0, 4}));
  EXPECT_THROW((x * 2.0).backward(ones({4})), Error);
}

TEST(Autograd, DetachAndNoGrad) {
  Tensor x = ones({2}).requires_grad_();
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.storage(), x.storage());
  {
    NoGradGuard ng;
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  EXPECT_TRUE((x * 2.0).requires_grad());
  Tensor z = (x * d).sum();  // only x's path carries gradient
  z.backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{1, 1}));
  EXPECT_THROW(d.sum().backward(), Error);
}

TEST(Autograd, GraphIsFreedAfterBackward) {
  Tensor x = ones({2}).requires_grad_();
  Tensor y = (x.exp()).sum();
  y.backward();
  EXPECT_THROW(y.backward(), Error);
  Tensor z = (x.exp()).sum();
  z.backward(Tensor(), /*retain_graph=*/true);
  z.backward();
  EXPECT_NEAR(x.grad().to_vector<float>()[0], 3 * std::exp(1.0), 1e-5);
}

TEST(Autograd, GradientsFlowThroughViewsAndBroadcasting) {
  Tensor x = arange(6.0, DType::f64).reshape({2, 3}).requires_grad_();
  Tensor b = from_vector<double>({1, 2, 3}).requires_grad_();
  Tensor y = (x.t().slice(0, 0, 3, 2) * 2.0).sum() + (x + b).sum();
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 1, 3, 3, 1, 3}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{2, 2, 2}));
}

TEST(Autograd, InPlaceOnLeafRequiringGradIsAnError) {
  Tensor w = ones({2}).requires_grad_();
  EXPECT_THROW(w.add_(1.0), Error);
  {
    NoGradGuard ng;
    w.add_(1.0);  // optimizer-style update
  }
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{2, 2}));
}

TEST(Autograd, InPlaceAfterSaveIsDetectedAtBackward) {
  Tensor x = ones({2}).requires_grad_();
  Tensor y = x * 2.0;
  Tensor z = y.exp();  // exp saves its output z... and mul(y, y) below saves y
  Tensor w = (y * y).sum();
  y.add_(1.0);  // modifies a tensor saved for w's backward
  EXPECT_THROW(w.backward(), Error);
  (void)z;
}

TEST(Autograd, InPlaceOnNonLeafKeepsCorrectGradients) {
  Tensor x = from_vector<double>({1, 2}).requires_grad_();
  Tensor y = x * 3.0;
  y.mul_(x + 1.0);  // y = 3x^2 + 3x
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{9, 15}));
  Tensor z = x * 3.0;
  z.mul_(z);  // z = 9 x^2: the operand is z itself
  x.set_grad(Tensor());
  z.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{18, 36}));
}

TEST(Autograd, ToDtypeCarriesGradientBack) {
  Tensor x = ones({2}, DType::f64).requires_grad_();
  Tensor y = x.to(DType::f32) * 2.0;
  y.sum().backward();
  EXPECT_EQ(x.grad().dtype(), DType::f64);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 2}));
}
