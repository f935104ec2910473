#include <gtest/gtest.h>

#include "nabla/nabla.h"

using namespace nabla;

namespace {
double max_abs(const Tensor& t) { return max(abs(t.detach())).item(); }
}  // namespace

TEST(Rnn, PyTorchParameterNamesShapesAndInit) {
  nn::RNNOptions o;
  o.input_size = 3;
  o.hidden_size = 4;
  o.num_layers = 2;
  o.bidirectional = true;
  nn::LSTM lstm(o);
  std::vector<std::string> names;
  for (auto& [n, p] : lstm.named_parameters()) names.push_back(n);
  ASSERT_EQ(names.size(), 16u);
  EXPECT_EQ(names[0], "weight_ih_l0");
  EXPECT_EQ(names[4], "weight_ih_l0_reverse");
  EXPECT_EQ(names[8], "weight_ih_l1");
  auto sd = lstm.state_dict();
  EXPECT_EQ(sd.at("weight_ih_l0").sizes(), (Shape{16, 3}));
  EXPECT_EQ(sd.at("weight_ih_l1_reverse").sizes(), (Shape{16, 8}));  // reads both directions of layer 0
  EXPECT_EQ(sd.at("bias_hh_l1").sizes(), (Shape{16}));
  for (auto& [n, p] : lstm.named_parameters()) EXPECT_LE(max_abs(p), 0.5) << n;  // U(-1/sqrt(4), 1/sqrt(4))
  EXPECT_EQ(lstm.str(), "LSTM(3, 4, num_layers=2, bidirectional=True)");
}

TEST(Rnn, ShapesBatchFirstUnbatchedAndErrors) {
  nn::RNNOptions o;
  o.input_size = 3;
  o.hidden_size = 5;
  o.batch_first = true;
  nn::GRU gru(o);
  nn::RNNOutput r = gru.forward(randn({2, 7, 3}), Tensor());
  EXPECT_EQ(r.output.sizes(), (Shape{2, 7, 5}));
  EXPECT_EQ(r.h_n.sizes(), (Shape{1, 2, 5}));
  EXPECT_FALSE(r.c_n.defined());
  // The last output of a one-layer unidirectional net is its final state.
  EXPECT_EQ(max_abs(sub(r.output.select(1, 6), r.h_n.select(0, 0))), 0.0);
  Tensor u = gru.forward(randn({7, 3}));  // unbatched [T, F]
  EXPECT_EQ(u.sizes(), (Shape{7, 5}));
  EXPECT_THROW(gru.forward(randn({2, 7, 4})), Error);                      // wrong feature count
  EXPECT_THROW(gru.forward(randn({2, 7, 3}), randn({2, 2, 5})), Error);    // h0 for 2 layers
  EXPECT_THROW(gru.forward(randn({2, 7, 3}), Tensor(), randn({1, 2, 5})), Error);  // c0 to a GRU
  EXPECT_THROW(gru.forward(randn({2, 7, 3}), Tensor(), Tensor(), {7, 8}), Error);  // length > T
  EXPECT_THROW(gru.forward(randn({2, 7, 3}), Tensor(), Tensor(), {7}), Error);     // one length for two
  o.nonlinearity = "sigmoid";
  EXPECT_THROW(nn::RNN bad(o), Error);
}

TEST(Rnn, LengthsZeroThePaddingAndFreezeTheState) {
  nn::RNNOptions o;
  o.input_size = 2;
  o.hidden_size = 3;
  nn::LSTM lstm(o);
  Tensor x = randn({5, 2, 2});
  nn::RNNOutput packed = lstm.forward(x, Tensor(), Tensor(), {5, 3});
  EXPECT_EQ(max_abs(packed.output.narrow(0, 3, 2).select(1, 1)), 0.0);  // past the end of sequence 1
  // Sequence 1 alone, cut to its length, gives the same outputs and final states.
  nn::RNNOutput alone = lstm.forward(x.narrow(0, 0, 3).narrow(1, 1, 1), Tensor());
  EXPECT_LT(max_abs(sub(alone.output.select(1, 0), packed.output.narrow(0, 0, 3).select(1, 1))), 1e-6);
  EXPECT_LT(max_abs(sub(alone.h_n.select(1, 0), packed.h_n.select(1, 1))), 1e-6);
  EXPECT_LT(max_abs(sub(alone.c_n.select(1, 0), packed.c_n.select(1, 1))), 1e-6);
}

TEST(Rnn, CellsMatchOneStepOfTheLayer) {
  nn::LSTMCell cell(3, 4);
  nn::RNNOptions o;
  o.input_size = 3;
  o.hidden_size = 4;
  nn::LSTM lstm(o);
  lstm.load_state_dict({{"weight_ih_l0", cell.weight_ih}, {"weight_hh_l0", cell.weight_hh},
                        {"bias_ih_l0", cell.bias_ih}, {"bias_hh_l0", cell.bias_hh}});
  Tensor x = randn({2, 3}), h = randn({2, 4}), c = randn({2, 4});
  auto [h1, c1] = cell.forward(x, h, c);
  nn::RNNOutput r = lstm.forward(x.unsqueeze(0), h.unsqueeze(0), c.unsqueeze(0));
  EXPECT_LT(max_abs(sub(h1, r.h_n.select(0, 0))), 1e-6);
  EXPECT_LT(max_abs(sub(c1, r.c_n.select(0, 0))), 1e-6);
  Tensor u = cell.forward(randn({3}));  // unbatched
  EXPECT_EQ(u.sizes(), (Shape{4}));
  EXPECT_THROW(cell.forward(randn({2, 5})), Error);
}

TEST(MinRnn, ParallelScanEqualsTheSequentialLoop) {
  manual_seed(5);
  nn::MinGRU gru(3, 8);
  nn::MinLSTM lstm(3, 8);
  Tensor x = randn({2, 64, 3}), h0 = rand({2, 8});
  for (nn::MinRNNBase* m : std::initializer_list<nn::MinRNNBase*>{&gru, &lstm}) {
    Tensor par = m->forward(x, h0), seq = m->forward_sequential(x, h0);
    EXPECT_EQ(par.sizes(), (Shape{2, 64, 8}));
    EXPECT_LT(max_abs(sub(par, seq)), 1e-5) << m->type_name();
    Tensor zero_start = m->forward(x);  // h0 = 0 is log 0 = -inf in the scan
    EXPECT_LT(max_abs(sub(zero_start, m->forward_sequential(x))), 1e-5) << m->type_name();
    // Stepping one token at a time (generation) walks the same states.
    Tensor h = h0;
    for (int64_t t = 0; t < 5; ++t) h = m->step(x.select(1, t), h);
    EXPECT_LT(max_abs(sub(h, par.select(1, 4))), 1e-5) << m->type_name();
    EXPECT_GT(min(par.detach()).item(), 0.0) << "states stay positive";
  }
  EXPECT_THROW(gru.forward(x, neg(h0)), Error);
  EXPECT_THROW(gru.forward(randn({2, 5, 4})), Error);
}

TEST(MinRnn, GradientsOfParallelAndSequentialModesAgree) {
  manual_seed(6);
  nn::MinLSTM m(2, 4);
  Tensor x = randn({3, 16, 2});
  Tensor w = randn({3, 16, 4});
  sum(mul(m.forward(x), w)).backward();
  std::vector<Tensor> par;
  for (auto& p : m.parameters()) par.push_back(p.grad().clone());
  m.zero_grad();
  sum(mul(m.forward_sequential(x), w)).backward();
  auto ps = m.parameters();
  for (size_t i = 0; i < ps.size(); ++i) EXPECT_LT(max_abs(sub(par[i], ps[i].grad())), 1e-4);
}

TEST(MinRnn, FusedScanEqualsThePaperLogSpaceScanOnLongSequences) {
  manual_seed(7);
  Tensor k = randn({2, 2048, 4});
  Tensor log_a = neg(softplus(k)), log_b = add(neg(softplus(neg(k))), -1.0), h0 = rand({2, 4});
  Tensor fused = linear_scan(log_a, log_b, h0);
  Tensor paper = nn::log_space_scan(log_a, log_b, log(h0));
  // Relative: the paper's form carries the cumulative sum of log a (here ~ -1400 at the end) in float32.
  EXPECT_LT(max_abs(div(sub(fused, paper), fused)), 1e-3);
  Tensor seq = nn::sequential_scan(exp(log_a.narrow(1, 0, 64)), exp(log_b.narrow(1, 0, 64)), h0);
  EXPECT_LT(max_abs(sub(fused.narrow(1, 0, 64), seq)), 1e-5);
  EXPECT_THROW(linear_scan(log_a, log_b, rand({3, 4})), Error);
}
