// Low-rank factorization: the factors reproduce the layer at full rank and
// are its best rank-r approximation below it (Eckart-Young), for Linear and
// strided, padded, dilated Conv2d; the structure follows from a state_dict.
#include <gtest/gtest.h>

#include "nabla/compress/low_rank.h"
#include "nabla/nabla.h"

using namespace nabla;

namespace {

std::shared_ptr<nn::Sequential> net(uint64_t seed = 0) {
  manual_seed(seed);
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Conv2d>(3, 16, 3, 2, 1, 2),
                                          std::make_shared<nn::ReLU>(), std::make_shared<nn::Flatten>(),
                                          std::make_shared<nn::Linear>(16 * 3 * 3, 24),
                                          std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(24, 5));
}

std::vector<std::string> keys(nn::Module& m) {
  std::vector<std::string> k;
  for (auto& [n, t] : m.state_dict()) k.push_back(n);
  return k;
}

}  // namespace

TEST(LowRank, FullRankReproducesTheLayers) {
  auto m = net();
  m->to(DType::f64);
  Tensor x = randn({4, 3, 7, 7}, DType::f64);
  Tensor before = (*m)(x).detach();
  compress::LowRankOptions o;
  o.energy = 1.0;
  o.max_ratio = 1e9;  // factorize every layer, saving or not
  auto done = compress::low_rank(*m, o);
  ASSERT_EQ(done.size(), 3u);
  for (const auto& f : done) EXPECT_EQ(f.rank, f.full_rank) << f.path;
  EXPECT_EQ(done[0].full_rank, 16);  // min(16, 3 * 3 * 3 = 27)
  EXPECT_TRUE(allclose((*m)(x), before, 1e-9, 1e-10));
  EXPECT_EQ(keys(*m), (std::vector<std::string>{"0.low_rank.0.weight", "0.low_rank.1.bias", "0.low_rank.1.weight",
                                                 "3.low_rank.0.weight", "3.low_rank.1.bias", "3.low_rank.1.weight",
                                                 "5.low_rank.0.weight", "5.low_rank.1.bias", "5.low_rank.1.weight"}));
  // The factors train: gradients reach both.
  sum((*m)(x)).backward();
  for (auto& [n, p] : m->named_parameters()) EXPECT_TRUE(p.grad().defined()) << n;
}

TEST(LowRank, TruncationIsTheBestApproximationAndSkipsWhatDoesNotPay) {
  auto m = net(1);
  m->to(DType::f64);
  auto& fc = dynamic_cast<nn::Linear&>(*(*m)[3]);
  Tensor w = fc.weight.detach().clone();
  std::vector<double> s = linalg::svdvals(w).to_vector<double>();
  compress::LowRankOptions o;
  o.rank = 4;
  auto done = compress::low_rank(*m, o);
  // 144 x 24 at rank 4: 4 * 168 + 24 of 3480 weights. The conv (16 x 27, rank 4: 172 of 448) too;
  // the last Linear (24 x 5, rank 4: 121 of 125) is not worth it.
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[1].rank, 4);
  EXPECT_EQ(done[1].params_before, 24 * 144 + 24);
  EXPECT_EQ(done[1].params_after, 4 * (24 + 144) + 24);
  EXPECT_EQ(done[2].rank, 0);
  EXPECT_EQ(done[2].params_after, done[2].params_before);
  // ||W - B A||_F^2 is the sum of the discarded squared singular values.
  auto& f = dynamic_cast<nn::Sequential&>(*fc.delegate());
  Tensor approx = matmul(dynamic_cast<nn::Linear&>(*f[1]).weight, dynamic_cast<nn::Linear&>(*f[0]).weight);
  double rest = 0, total = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    total += s[i] * s[i];
    if (i >= 4) rest += s[i] * s[i];
  }
  Tensor d = w - approx;
  EXPECT_NEAR(sum(d * d).item(), rest, 1e-9 * total);
  EXPECT_NEAR(done[1].energy, 1 - rest / total, 1e-12);
}

TEST(LowRank, EnergyPicksTheFewestSingularValues) {
  auto m = net(2);
  auto& fc = dynamic_cast<nn::Linear&>(*(*m)[3]);
  std::vector<double> s = linalg::svdvals(fc.weight.detach().to(DType::f64)).to_vector<double>();
  double total = 0;
  for (double v : s) total += v * v;
  int64_t want = 0;
  for (double acc = 0; acc < 0.5 * total; ++want) acc += s[want] * s[want];
  compress::LowRankOptions o;
  o.energy = 0.5;
  o.skip = {"0"};
  auto done = compress::low_rank(*m, o);
  EXPECT_EQ(done.size(), 2u);  // the conv skipped by name
  EXPECT_EQ(done[0].path, "3");
  EXPECT_EQ(done[0].rank, want);
  EXPECT_GE(done[0].energy, 0.5);
  EXPECT_FALSE((*m)[0]->delegate());
  o.energy = 0.0;
  EXPECT_THROW(compress::low_rank(*m, o), Error);
  o.rank = 2;
  o.energy = 0.5;
  EXPECT_THROW(compress::low_rank(*m, o), Error);
}

TEST(LowRank, AStateDictRebuildsTheFactorizedModel) {
  auto m = net(3);
  compress::LowRankOptions o;
  o.rank = 3;
  compress::low_rank(*m, o);
  Tensor x = randn({2, 3, 7, 7});
  Tensor y = (*m)(x).detach();
  auto fresh = net(4);
  EXPECT_THROW(fresh->load_state_dict(m->state_dict()), Error);  // plain layers: the keys differ
  EXPECT_EQ(compress::adopt_low_rank(*fresh, m->state_dict()), 3);  // rank 3 pays in every layer
  fresh->load_state_dict(m->state_dict());
  EXPECT_TRUE(allclose((*fresh)(x), y, 1e-6, 1e-6));
  EXPECT_EQ(fresh->num_parameters(), m->num_parameters());
  // A factor that does not fit the layer is refused before anything is sized from it.
  auto bad = m->state_dict();
  bad["3.low_rank.0.weight"] = zeros({1000000000, 0});
  EXPECT_THROW(compress::adopt_low_rank(*net(5), bad), Error);
}
