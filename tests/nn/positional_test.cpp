// Rotary, sinusoidal and learned positions, ALiBi, SwiGLU: against their
// definitions, and the properties they exist for.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.h"
#include "support/error_of.h"

using namespace nabla;
using nabla::testing::error_of;

namespace {

TEST(Rotary, FollowsTheRotateHalfDefinition) {
  Generator gen(1);
  Tensor x = randn({1, 2, 5, 4}, DType::f64, &gen);
  nn::RotaryEmbedding rope(4, 100.0);
  Tensor y = rope.forward(x, 3);
  auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t t = 0; t < 5; ++t)
      for (int64_t i = 0; i < 2; ++i) {
        const double a = (3 + t) * std::pow(100.0, -2.0 * i / 4);
        const int64_t r = (h * 5 + t) * 4;
        EXPECT_NEAR(yv[r + i], xv[r + i] * std::cos(a) - xv[r + i + 2] * std::sin(a), 1e-12);
        EXPECT_NEAR(yv[r + i + 2], xv[r + i + 2] * std::cos(a) + xv[r + i] * std::sin(a), 1e-12);
      }
}

TEST(Rotary, ScoresDependOnRelativePositionsOnly) {
  Generator gen(2);
  nn::RotaryEmbedding rope(8);
  Tensor q = randn({1, 8}, DType::f64, &gen), k = randn({1, 8}, DType::f64, &gen);
  auto score = [&](int64_t m, int64_t n) { return (rope.forward(q, m) * rope.forward(k, n)).sum().item<double>(); };
  EXPECT_NEAR(score(5, 2), score(105, 102), 1e-9);
  EXPECT_NEAR(score(0, 0), (q * k).sum().item<double>(), 1e-12);
  // Norms are kept; a slice at an offset is the same as the slice of the whole.
  Tensor x = randn({3, 6, 8}, DType::f64, &gen);
  EXPECT_NEAR(rope.forward(x).pow(2.0).sum().item<double>(), x.pow(2.0).sum().item<double>(), 1e-9);
  EXPECT_TRUE(allclose(rope.forward(x.narrow(1, 4, 2), 4), rope.forward(x).narrow(1, 4, 2)));
  EXPECT_NE(error_of([&] { nn::RotaryEmbedding(5); }).find("even"), std::string::npos);
  EXPECT_NE(error_of([&] { rope.forward(randn({2, 6})); }).find("expected input [..., T, 8]"), std::string::npos);
}

TEST(Sinusoidal, VaswanisTable) {
  Tensor pe = nn::sinusoidal_positions(3, 4, 0, DType::f64);
  auto v = pe.to_vector<double>();
  EXPECT_NEAR(v[1 * 4 + 0], std::sin(1.0), 1e-12);
  EXPECT_NEAR(v[1 * 4 + 1], std::cos(1.0), 1e-12);
  EXPECT_NEAR(v[2 * 4 + 2], std::sin(2.0 / 100.0), 1e-12);  // 10000^(-2/4) = 1/100
  EXPECT_NEAR(v[2 * 4 + 3], std::cos(2.0 / 100.0), 1e-12);
  Tensor odd = nn::sinusoidal_positions(2, 5, 7, DType::f64);
  EXPECT_EQ(odd.sizes(), (Shape{2, 5}));
  EXPECT_NEAR(odd.to_vector<double>()[4], std::sin(7.0 * std::pow(10000.0, -4.0 / 5)), 1e-12);
  nn::SinusoidalPositionalEncoding enc(4);
  Tensor x = zeros({2, 3, 4}, DType::f64);
  EXPECT_TRUE(allclose(enc.forward(x).select(0, 1), pe));
}

TEST(LearnedPositions, AddTheirRowsAndRefuseTooLongInputs) {
  nn::LearnedPositionalEmbedding wpe(6, 3);
  EXPECT_EQ(wpe.state_dict().count("weight"), 1u);
  Tensor x = zeros({2, 4, 3});
  EXPECT_TRUE(allclose(wpe.forward(x, 2).select(0, 0), wpe.weight.narrow(0, 2, 4)));
  EXPECT_NE(error_of([&] { wpe.forward(x, 3); }).find("positions 3 to 6 exceed max_positions 6"), std::string::npos);
}

TEST(Alibi, ThePapersSlopesAndBiases) {
  auto s8 = nn::alibi_slopes(8, DType::f64).to_vector<double>();
  for (int i = 0; i < 8; ++i) EXPECT_DOUBLE_EQ(s8[i], std::pow(2.0, -(i + 1)));
  // Not a power of two: 4 heads' slopes, then every other one of 8 heads'.
  EXPECT_EQ(nn::alibi_slopes(6, DType::f64).to_vector<double>(),
            (std::vector<double>{0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125}));
  Tensor b = nn::alibi_bias(2, 2, 4, DType::f64);  // queries at positions 2 and 3
  EXPECT_EQ(b.sizes(), (Shape{2, 2, 4}));
  auto v = b.to_vector<double>();
  EXPECT_DOUBLE_EQ(v[0 * 8 + 1 * 4 + 0], -0.0625 * 3);  // head 0 (slope 2^-4), query 3, key 0
  EXPECT_DOUBLE_EQ(v[1 * 8 + 0 * 4 + 2], 0.0);          // a query's own position
}

TEST(SwiGLU, IsW2OfSiluW1TimesW3) {
  manual_seed(3);
  nn::SwiGLU ff(4, 6);
  std::vector<std::string> names;
  for (auto& [n, p] : ff.named_parameters()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"w1.weight", "w2.weight", "w3.weight"}));
  Tensor x = randn({2, 4});
  Tensor want = linear(silu(linear(x, ff.w1->weight)) * linear(x, ff.w3->weight), ff.w2->weight);
  EXPECT_TRUE(allclose(ff(x), want));
}

}  // namespace
