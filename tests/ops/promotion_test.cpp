// Mixed dtypes, 0-dim tensors and C++ scalars promote as in PyTorch 1.13.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.h"

namespace {

using namespace nabla;

Tensor vec(std::initializer_list<double> v, DType t) {
  Tensor x = Tensor::empty({static_cast<int64_t>(v.size())}, DType::f64);
  int64_t i = 0;
  for (double e : v) x.select(0, i++).fill_(e);
  return x.to(t);
}

TEST(Promotion, ResultTypeFollowsPyTorch) {
  Tensor f = zeros({2}), d = zeros({2}, DType::f64), l = zeros({2}, DType::i64), b = zeros({2}, DType::u8);
  Tensor f0 = scalar_tensor(1.0), d0 = scalar_tensor(1.0, DType::f64), l0 = scalar_tensor(1.0, DType::i64);
  EXPECT_EQ(result_type(b, l), DType::i64);
  EXPECT_EQ(result_type(f, d), DType::f64);
  EXPECT_EQ(result_type(l, f), DType::f32);
  EXPECT_EQ(result_type(f, d0), DType::f32);   // a 0-dim operand of the same category does not widen
  EXPECT_EQ(result_type(l, d0), DType::f64);   // ... one of a higher category decides
  EXPECT_EQ(result_type(b, l0), DType::u8);
  EXPECT_EQ(result_type(f0, d0), DType::f64);  // all 0-dim: they promote among themselves
  EXPECT_EQ(result_type(l0, f), DType::f32);
}

TEST(Promotion, IntegerTensorTimesAFractionIsFloat) {
  Tensor x = vec({1, 2, 3}, DType::i64);
  Tensor y = mul(x, 0.5);
  ASSERT_EQ(y.dtype(), DType::f32);
  EXPECT_FLOAT_EQ(y.select(0, 0).item(), 0.5);
  EXPECT_FLOAT_EQ(y.select(0, 2).item(), 1.5);
  Tensor z = x * 0.5 + 0.25;
  EXPECT_FLOAT_EQ(z.select(0, 1).item(), 1.25);
  EXPECT_EQ((x < 1.5).select(0, 0).item(), 1.0);  // compared as floats, not truncated
  EXPECT_EQ((x < 1.5).select(0, 1).item(), 0.0);
}

TEST(Promotion, MixedTensorsComputeInTheWiderType) {
  Tensor u = vec({200, 100}, DType::u8), l = vec({100, -50}, DType::i64);
  Tensor s = add(u, l);
  ASSERT_EQ(s.dtype(), DType::i64);
  EXPECT_EQ(s.select(0, 0).item(), 300.0);  // no u8 wrap-around
  Tensor f = vec({0.1, 0.2}, DType::f32);
  Tensor g = add(f, scalar_tensor(1e-10, DType::f64));
  EXPECT_EQ(g.dtype(), DType::f32);
  Tensor h = add(f, vec({1, 2}, DType::f64));
  EXPECT_EQ(h.dtype(), DType::f64);
  EXPECT_EQ(div(vec({3, 4}, DType::i64), vec({2, 8}, DType::i64)).dtype(), DType::f32);  // true division
  EXPECT_FLOAT_EQ(div(vec({3, 4}, DType::i64), vec({2, 8}, DType::i64)).select(0, 0).item(), 1.5);
  EXPECT_EQ(maximum(l, f).dtype(), DType::f32);
  EXPECT_EQ(where((f > 0.15), f, vec({7, 7}, DType::f64)).dtype(), DType::f64);
}

TEST(Promotion, GradientsFlowBackThroughPromotion) {
  Tensor f = vec({1, 2}, DType::f32).requires_grad_();
  Tensor d = vec({3, 4}, DType::f64).requires_grad_();
  Tensor y = sum(mul(f, d));
  EXPECT_EQ(y.dtype(), DType::f64);
  y.backward();
  ASSERT_EQ(f.grad().dtype(), DType::f32);
  EXPECT_FLOAT_EQ(f.grad().select(0, 1).item(), 4.0);
  EXPECT_DOUBLE_EQ(d.grad().select(0, 0).item(), 1.0);
}

TEST(Promotion, InPlaceKeepsTheDestinationType) {
  Tensor counter = zeros({}, DType::i64);
  counter.add_(1.0);  // a whole number: the counter stays i64
  EXPECT_EQ(counter.dtype(), DType::i64);
  EXPECT_EQ(counter.item(), 1.0);
  Tensor f = zeros({2});
  f.add_(vec({1, 2}, DType::f64));
  EXPECT_EQ(f.dtype(), DType::f32);
  EXPECT_FLOAT_EQ(f.select(0, 1).item(), 2.0);
  Tensor l = zeros({2}, DType::i64);
  EXPECT_THROW(l.add_(zeros({2})), Error);  // f32 result into i64: refused, as PyTorch
}

}  // namespace

namespace {

using namespace nabla;

TEST(InPlaceOverlap, ExpandedDestinationIsRefused) {
  Tensor x = zeros({3});
  Tensor e = x.expand({2, 3});
  try {
    e.add_(1.0);
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("single memory location"), std::string::npos) << err.what();
    EXPECT_NE(std::string(err.what()).find("[2, 3]"), std::string::npos) << err.what();
  }
  EXPECT_THROW(e.fill_(2.0), Error);
  EXPECT_EQ(sum(x).item(), 0.0);  // nothing was written
}

TEST(InPlaceOverlap, PartiallyOverlappingSourceIsRefused) {
  Tensor x = arange(0, 9).reshape({3, 3}).to(DType::f32);
  EXPECT_THROW(x.add_(x.t()), Error);
  EXPECT_THROW(x.narrow(0, 0, 2).copy_(x.narrow(0, 1, 2)), Error);
  x.add_(x);  // the destination itself: fine
  EXPECT_EQ(x.select(0, 2).select(0, 2).item(), 16.0);
  Tensor y = arange(0, 8).to(DType::f32);
  y.slice(0, 0, 8, 2).add_(y.slice(0, 1, 8, 2));  // interleaved, never the same element: fine
  EXPECT_EQ(y.select(0, 0).item(), 1.0);
  EXPECT_EQ(y.select(0, 6).item(), 13.0);
  Tensor z = arange(0, 8).to(DType::f32);
  z.narrow(0, 0, 4).copy_(z.narrow(0, 4, 4));  // disjoint halves: fine
  EXPECT_EQ(z.select(0, 0).item(), 4.0);
}

}  // namespace

// Unary floating ops take integer and bool tensors as f32, as in PyTorch 1.13;
// relu keeps an integer dtype.
TEST(Promotion, UnaryFloatOpsPromoteIntegersToF32) {
  Tensor i = from_vector<int64_t>({1, 4, 9}, {3});
  Tensor u = from_vector<uint8_t>({1, 4, 9}, {3});
  for (const Tensor& t : {i, u}) {
    EXPECT_EQ(sqrt(t).dtype(), DType::f32);
    EXPECT_EQ(sqrt(t).to_vector<float>(), (std::vector<float>{1, 2, 3}));
    EXPECT_NEAR(exp(t).to_vector<float>()[1], std::exp(4.0f), 1e-3);
    EXPECT_NEAR(log(t).to_vector<float>()[2], std::log(9.0f), 1e-6);
    EXPECT_NEAR(log1p(t).to_vector<float>()[0], std::log(2.0f), 1e-6);
    EXPECT_NEAR(rsqrt(t).to_vector<float>()[1], 0.5f, 1e-6);
    EXPECT_NEAR(sigmoid(t).to_vector<float>()[0], 1.0f / (1.0f + std::exp(-1.0f)), 1e-6);
    EXPECT_NEAR(tanh(t).to_vector<float>()[0], std::tanh(1.0f), 1e-6);
    EXPECT_EQ(pow(t, 2.0).dtype(), DType::f32);
    EXPECT_EQ(pow(t, 2.0).to_vector<float>(), (std::vector<float>{1, 16, 81}));
  }
  Tensor r = relu(from_vector<int64_t>({-2, 0, 3}, {3}));
  EXPECT_EQ(r.dtype(), DType::i64);
  EXPECT_EQ(r.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 3}));
}

TEST(Promotion, IntegerScalarsKeepIntegerTensorsInteger) {
  Tensor i = from_vector<int64_t>({1, 2, 3}, {3});
  EXPECT_EQ((i * 2).dtype(), DType::i64);
  EXPECT_EQ((i * 2).to_vector<int64_t>(), (std::vector<int64_t>{2, 4, 6}));
  EXPECT_EQ((i + (int64_t{1} << 60)).to_vector<int64_t>()[0], (int64_t{1} << 60) + 1);  // exact past 2^53
  EXPECT_EQ((10 - i).to_vector<int64_t>(), (std::vector<int64_t>{9, 8, 7}));
  EXPECT_EQ((i * 2.0).dtype(), DType::f32);  // a floating scalar promotes, as in PyTorch
  EXPECT_EQ((i / 2).dtype(), DType::f32);    // true division
  Tensor f = from_vector<float>({1.5f}, {1});
  EXPECT_EQ((f * 2).dtype(), DType::f32);
  EXPECT_EQ((f * 2).to_vector<float>()[0], 3.0f);
  Tensor u = from_vector<uint8_t>({7}, {1});
  EXPECT_EQ((u + 1).dtype(), DType::u8);  // a 0-dim of the same category does not promote
}
