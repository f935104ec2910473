#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.h"
#include "nabla/train/generate.h"

using namespace nabla;
using train::SamplingOptions;

namespace {

std::vector<double> frequencies(const Tensor& logits, const SamplingOptions& o, int64_t draws, uint64_t seed) {
  Generator g(seed);
  std::vector<double> f(static_cast<size_t>(logits.numel()), 0.0);
  for (int64_t i = 0; i < draws; ++i) f[static_cast<size_t>(train::sample_token(logits, o, g))] += 1.0 / draws;
  return f;
}

}  // namespace

TEST(SampleToken, TemperatureZeroTakesTheMostLikelyAndTheLowestIdOnTies) {
  Generator g(0);
  SamplingOptions o;
  o.temperature = 0;
  EXPECT_EQ(train::sample_token(from_vector<float>({0.1f, 2.0f, -1.0f}), o, g), 1);
  EXPECT_EQ(train::sample_token(from_vector<float>({3.0f, 1.0f, 3.0f}), o, g), 0);
}

TEST(SampleToken, FrequenciesFollowTheSoftmax) {
  Tensor logits = from_vector<double>({0.0, std::log(2.0), std::log(3.0)});
  SamplingOptions o;
  std::vector<double> f = frequencies(logits, o, 30000, 1);
  EXPECT_NEAR(f[0], 1.0 / 6, 0.012);
  EXPECT_NEAR(f[1], 2.0 / 6, 0.012);
  EXPECT_NEAR(f[2], 3.0 / 6, 0.012);
  o.temperature = 2.0;  // p proportional to sqrt(1), sqrt(2), sqrt(3)
  f = frequencies(logits, o, 30000, 2);
  double z = 1 + std::sqrt(2.0) + std::sqrt(3.0);
  EXPECT_NEAR(f[0], 1 / z, 0.012);
  EXPECT_NEAR(f[2], std::sqrt(3.0) / z, 0.012);
}

TEST(SampleToken, TopKDrawsOnlyAmongTheKMostLikely) {
  Tensor logits = from_vector<double>({0.0, std::log(2.0), std::log(3.0)});
  SamplingOptions o;
  o.top_k = 2;
  std::vector<double> f = frequencies(logits, o, 20000, 3);
  EXPECT_EQ(f[0], 0.0);
  EXPECT_NEAR(f[1], 0.4, 0.015);
  EXPECT_NEAR(f[2], 0.6, 0.015);
  o.top_k = 1;
  f = frequencies(logits, o, 100, 4);
  EXPECT_NEAR(f[2], 1.0, 1e-9);
  o.top_k = 10;  // more than the vocabulary: all
  f = frequencies(logits, o, 20000, 5);
  EXPECT_GT(f[0], 0.1);
}

TEST(SampleToken, BadOptionsAreErrors) {
  Generator g(0);
  SamplingOptions o;
  o.temperature = -1;
  EXPECT_THROW(train::sample_token(from_vector<float>({1.0f, 2.0f}), o, g), Error);
  o.temperature = 1;
  EXPECT_THROW(train::sample_token(from_vector<float>({1.0f, NAN}), o, g), Error);
  EXPECT_THROW(train::sample_token(zeros({2, 2}), o, g), Error);
}

TEST(Generate, GreedyWithCarriedStateEqualsRecomputingThePrefix) {
  default_generator().manual_seed(7);
  for (const char* cell : {"lstm", "gru", "mingru"}) {
    models::CharRNN m(cell, 9, 5, 12, 2, 0.0);
    SamplingOptions o;
    o.temperature = 0;
    o.length = 12;
    Generator g(0);
    std::vector<int64_t> streamed;
    std::vector<int64_t> got = train::generate(m, {3, 1, 4}, o, g, [&](int64_t id) { streamed.push_back(id); });
    ASSERT_EQ(got.size(), 12u);
    EXPECT_EQ(streamed, got);
    // The reference: rerun the whole text from zero state for every new token.
    NoGradGuard ng;
    m.eval();
    std::vector<int64_t> text = {3, 1, 4};
    for (int64_t i = 0; i < o.length; ++i) {
      Tensor logits = m.forward(from_vector<int64_t>(text, {1, static_cast<int64_t>(text.size())}));
      text.push_back(argmax(logits.select(0, 0).select(0, logits.size(1) - 1), 0).item<int64_t>());
    }
    EXPECT_EQ(std::vector<int64_t>(text.begin() + 3, text.end()), got) << cell;
  }
}

TEST(Generate, SeededSamplingRepeats) {
  default_generator().manual_seed(8);
  models::CharRNN m("gru", 9, 5, 12, 1, 0.0);
  SamplingOptions o;
  o.length = 30;
  o.top_k = 4;
  Generator g1(42), g2(42), g3(43);
  auto a = train::generate(m, {0}, o, g1), b = train::generate(m, {0}, o, g2), c = train::generate(m, {0}, o, g3);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_THROW(train::generate(m, {}, o, g1), Error);
}
