#include <gtest/gtest.h>

#include "nabla/models/char_rnn.h"
#include "nabla/nabla.h"

using namespace nabla;

namespace {

Tensor tokens(int64_t B, int64_t T, int64_t vocab, uint64_t seed) {
  Generator g(seed);
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < B * T; ++i) ids.push_back(g.randint(0, vocab));
  return from_vector<int64_t>(ids, {B, T});
}

double max_diff(const Tensor& a, const Tensor& b) { return max(abs(sub(a, b))).item(); }

class EveryCell : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(EveryCell, CarriedStateGivesTheSameLogitsAsOneLongRun) {
  default_generator().manual_seed(3);
  models::CharRNN m(GetParam(), 11, 8, 16, 2, 0.0);
  m.eval();
  Tensor x = tokens(3, 13, 11, 1);
  Tensor whole = m.forward(x);
  ASSERT_EQ(whole.sizes(), (Shape{3, 13, 11}));
  models::RecurrentState s;
  Tensor first = m.forward_state(x.narrow(1, 0, 5).contiguous(), s);
  ASSERT_FALSE(s.empty());
  Tensor rest = m.forward_state(x.narrow(1, 5, 8).contiguous(), s);
  EXPECT_LT(max_diff(cat({first, rest}, 1), whole), 1e-5);
}

TEST_P(EveryCell, OneTokenAtATimeGivesTheSameLogits) {
  // Generation feeds single tokens; minGRU then runs its recurrence as a step instead of the scan.
  default_generator().manual_seed(4);
  models::CharRNN m(GetParam(), 7, 6, 12, 3, 0.0);
  m.eval();
  Tensor x = tokens(2, 9, 7, 2);
  Tensor whole = m.forward(x);
  models::RecurrentState s;
  std::vector<Tensor> steps;
  for (int64_t t = 0; t < 9; ++t) steps.push_back(m.forward_state(x.narrow(1, t, 1).contiguous(), s));
  EXPECT_LT(max_diff(cat(steps, 1), whole), 1e-5);
}

TEST_P(EveryCell, TruncationStopsGradientsAtTheWindow) {
  default_generator().manual_seed(5);
  models::CharRNN m(GetParam(), 5, 4, 8, 2, 0.0);
  models::RecurrentState s;
  m.forward_state(tokens(2, 4, 5, 3), s);
  models::RecurrentState cut = models::detach(s);
  ASSERT_EQ(cut.size(), s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_TRUE(s[i].requires_grad());
    EXPECT_FALSE(cut[i].requires_grad());
    EXPECT_EQ(max_diff(s[i], cut[i]), 0.0);
  }
  Tensor out = m.forward_state(tokens(2, 4, 5, 4), cut);
  sum(square(out)).backward();
  for (auto& [name, p] : m.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_GT(max(abs(p.grad())).item(), 0.0) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(CharRNN, EveryCell, ::testing::Values("lstm", "gru", "mingru"));

TEST(CharRNN, ParameterNamesFollowTheLayers) {
  models::CharRNN lstm("lstm", 10, 4, 8, 2, 0.0);
  auto sd = lstm.state_dict();
  EXPECT_TRUE(sd.count("emb.weight"));
  EXPECT_TRUE(sd.count("rnn.weight_ih_l1"));
  EXPECT_TRUE(sd.count("head.bias"));
  models::CharRNN mg("mingru", 10, 4, 8, 2, 0.0);
  sd = mg.state_dict();
  EXPECT_TRUE(sd.count("mingru.0.linear.weight"));
  EXPECT_TRUE(sd.count("mingru.1.linear.weight"));
  EXPECT_TRUE(sd.count("norms.0.weight"));
}

TEST(CharRNN, BadInputsAndStatesAreErrors) {
  models::CharRNN m("lstm", 10, 4, 8, 2, 0.0);
  EXPECT_THROW(m.forward(randn({2, 3})), Error);  // floats, not ids
  models::RecurrentState wrong{zeros({2, 2, 8})};  // an LSTM state needs h and c
  EXPECT_THROW(m.forward_state(tokens(2, 3, 10, 1), wrong), Error);
  EXPECT_THROW(models::CharRNN("transformer", 10, 4, 8, 2, 0.0), Error);
  models::ModelConfig cfg;
  cfg.num_classes = 10;
  cfg.hidden = {16, 32};
  EXPECT_THROW(models::char_rnn(cfg, "gru"), Error);
}
