#include <gtest/gtest.h>

#include "nabla/nabla.h"

using namespace nabla;

TEST(Views, ShareStorageWithTheirBase) {
  Tensor x = arange(12.0).reshape({3, 4});
  Tensor t = x.t();
  EXPECT_EQ(t.sizes(), (Shape{4, 3}));
  EXPECT_EQ(t.strides(), (Shape{1, 4}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.storage(), x.storage());
  Tensor s = x.slice(1, 1, 4, 2);  // columns 1 and 3
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{1, 3, 5, 7, 9, 11}));
  s.fill_(-1);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{0, -1, 2, -1, 4, -1, 6, -1, 8, -1, 10, -1}));
  Tensor e = x.select(0, 0).unsqueeze(0).expand({2, 4});
  EXPECT_EQ(e.strides(), (Shape{0, 1}));
  EXPECT_EQ(e.to_vector<float>(), (std::vector<float>{0, -1, 2, -1, 0, -1, 2, -1}));
}

TEST(Views, ContiguousCopiesOnlyWhenNeeded) {
  Tensor x = randn({3, 4});
  EXPECT_EQ(x.contiguous().storage(), x.storage());
  Tensor c = x.t().contiguous();
  EXPECT_NE(c.storage(), x.storage());
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_TRUE(allclose(c, x.t()));
}

TEST(Views, PermuteSqueezeFlattenNarrow) {
  Tensor x = arange(24.0).reshape({2, 3, 4});
  Tensor p = x.permute({2, 0, 1});
  EXPECT_EQ(p.sizes(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.select(0, 1).select(0, 1).to_vector<float>(), (std::vector<float>{13, 17, 21}));
  EXPECT_EQ(x.unsqueeze(1).sizes(), (Shape{2, 1, 3, 4}));
  EXPECT_EQ(x.unsqueeze(-1).sizes(), (Shape{2, 3, 4, 1}));
  EXPECT_EQ(x.unsqueeze(1).squeeze().sizes(), (Shape{2, 3, 4}));
  EXPECT_EQ(x.flatten(1).sizes(), (Shape{2, 12}));
  EXPECT_EQ(x.narrow(2, 1, 2).to_vector<float>()[0], 1.0f);
  EXPECT_EQ(x.view({-1, 6}).sizes(), (Shape{4, 6}));
}

TEST(Views, BadViewsAreErrors) {
  Tensor x = zeros({2, 3});
  EXPECT_THROW(x.view({4, 2}), Error);
  EXPECT_THROW(x.t().view({6}), Error);  // not contiguous: reshape works instead
  EXPECT_EQ(x.t().reshape({6}).sizes(), (Shape{6}));
  EXPECT_THROW(x.view({-1, -1}), Error);
  EXPECT_THROW(x.transpose(0, 2), Error);
  EXPECT_THROW(x.permute({0, 0}), Error);
  EXPECT_THROW(x.select(1, 3), Error);
  EXPECT_THROW(x.narrow(1, 2, 2), Error);
  EXPECT_THROW(x.expand({3, 3}), Error);
  EXPECT_THROW(x.slice(0, 0, 2, 0), Error);
}

TEST(Tensor, DtypeConversionAndItem) {
  Tensor x = from_vector<float>({1.7f, -2.2f, 3.0f});
  EXPECT_EQ(x.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(x.to(DType::f64).dtype(), DType::f64);
  EXPECT_EQ((x > 0.0).dtype(), DType::boolean);
  EXPECT_EQ((x > 0.0).to_vector<bool>(), (std::vector<bool>{true, false, true}));
  EXPECT_FLOAT_EQ(x.select(0, 2).item(), 3.0);
  EXPECT_THROW(x.item(), Error);
  EXPECT_THROW(x.data<double>(), Error);
  EXPECT_THROW(zeros({2}, DType::i64).requires_grad_(), Error);
}

TEST(Tensor, GeneratorIsReproducible) {
  manual_seed(42);
  Tensor a = randn({100});
  manual_seed(42);
  Tensor b = randn({100});
  EXPECT_TRUE(allclose(a, b, 0, 0));
  Generator g(1);
  Tensor u = rand({10000}, DType::f64, &g);
  EXPECT_NEAR(mean(u).item(), 0.5, 0.02);
  Tensor n = randn({10000}, DType::f64, &g);
  EXPECT_NEAR(mean(n).item(), 0.0, 0.05);
  EXPECT_NEAR(nabla::std(n, {}).item(), 1.0, 0.05);
  Tensor r = randint(3, 7, {1000}, DType::i64, &g);
  EXPECT_EQ(min(r).item(), 3);
  EXPECT_EQ(max(r).item(), 6);
  std::string st = g.state();
  Tensor c1 = randn({5}, DType::f64, &g);
  g.set_state(st);
  Tensor c2 = randn({5}, DType::f64, &g);
  EXPECT_TRUE(allclose(c1, c2, 0, 0));
}

TEST(Tensor, PrintsLikePyTorch) {
  EXPECT_EQ(from_vector<float>({1, 2, 3}).str(), "tensor([1., 2., 3.])");
  EXPECT_EQ(from_vector<float>({1.5f, -2, 0.25f}, {1, 3}).str(), "tensor([[ 1.5000, -2.0000,  0.2500]])");
  EXPECT_EQ(arange(4.0, DType::i64).reshape({2, 2}).str(), "tensor([[0, 1],\n        [2, 3]])");
  EXPECT_EQ(zeros({2}, DType::f64).requires_grad_().str(), "tensor([0., 0.], dtype=f64, requires_grad=True)");
  EXPECT_EQ(scalar_tensor(2.5).str(), "tensor(2.5000)");
  Tensor y = ones({2}).requires_grad_() * 2.0;
  EXPECT_EQ(y.str(), "tensor([2., 2.], grad_fn=<mulBackward>)");
  std::string big = zeros({2000}).str();
  EXPECT_NE(big.find("..."), std::string::npos);
}

TEST(Tensor, InPlaceArithmetic) {
  Tensor x = ones({2, 3});
  x.add_(from_vector<float>({1, 2, 3}));
  x.mul_(2.0);
  x.sub_(1.0);
  x.div_(from_vector<float>({1, 3}, {2, 1}));
  EXPECT_TRUE(allclose(x, from_vector<float>({3, 5, 7, 1, 5.0f / 3, 7.0f / 3}, {2, 3})));
  x.clamp_(2.0, 6.0);
  EXPECT_TRUE(allclose(x, from_vector<float>({3, 5, 6, 2, 2, 7.0f / 3}, {2, 3})));
  x.copy_(from_vector<int64_t>({4, 5, 6}));
  EXPECT_TRUE(allclose(x, from_vector<float>({4, 5, 6, 4, 5, 6}, {2, 3})));
  x.sub_(5.0).relu_();
  EXPECT_TRUE(allclose(x, from_vector<float>({0, 0, 1, 0, 0, 1}, {2, 3})));
  x.add_(5.0);
  x.masked_fill_(x > 5.5, 0.0);
  EXPECT_EQ(sum(x).item(), 20.0);
  EXPECT_THROW(x.add_(ones({3, 3})), Error);
}
