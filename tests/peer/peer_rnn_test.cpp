// nabla's RNN, LSTM, GRU and cells against PyTorch's (make_rnn_fixtures.py):
// with PyTorch's weights and states loaded, outputs, final states and the
// gradients of every parameter, the input and the initial states agree within
// 1e-5 (nabla in float32, the references in float64), for 1-2 layers, one or
// two directions, batch_first either way, and variable lengths.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "nabla/io/safetensors.h"
#include "nabla/nabla.h"
#include "nabla/nn/rnn.h"

using namespace nabla;

namespace {

std::string dir() {
  const char* d = std::getenv("NABLA_PEER_DIR");
  return d ? std::string(d) + "/rnn/" : "";
}

std::string diff(const Tensor& a, const Tensor& b) {
  return fmt::format("max |diff| {:.3g}", max(abs(sub(a.detach().to(DType::f64), b.to(DType::f64)))).item());
}

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what << " is undefined";
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  EXPECT_TRUE(allclose(got.detach().to(DType::f64), want, 1e-5, 1e-5)) << what << ": " << diff(got, want);
}

class PeerRnn : public ::testing::TestWithParam<std::string> {};

TEST_P(PeerRnn, MatchesPyTorch) {
  ASSERT_FALSE(dir().empty()) << "NABLA_PEER_DIR is not set (run through ctest)";
  std::map<std::string, std::string> meta;
  io::TensorMap fx = io::load_safetensors(dir() + GetParam() + ".safetensors", &meta);
  std::string kind = meta.at("kind");
  auto o = nlohmann::json::parse(meta.at("options"));
  std::vector<int64_t> lengths = nlohmann::json::parse(meta.at("lengths")).get<std::vector<int64_t>>();
  auto f32 = [&](const std::string& k) { return fx.at(k).to(DType::f32).requires_grad_(); };
  Tensor x = f32("x"), h0 = f32("h0"), c0 = fx.count("c0") ? f32("c0") : Tensor();

  std::shared_ptr<nn::Module> m;
  Tensor out, hn, cn;
  int64_t in = o.at("input_size"), hid = o.at("hidden_size");
  if (kind.size() > 4 && kind.substr(kind.size() - 4) == "Cell") {
    if (kind == "LSTMCell") {
      auto cell = std::make_shared<nn::LSTMCell>(in, hid);
      cell->load_state_dict(fx, false);
      std::tie(out, cn) = cell->forward(x, h0, c0);
      m = cell;
    } else if (kind == "GRUCell") {
      auto cell = std::make_shared<nn::GRUCell>(in, hid);
      cell->load_state_dict(fx, false);
      out = cell->forward(x, h0);
      m = cell;
    } else {
      auto cell = std::make_shared<nn::RNNCell>(in, hid, true, o.value("nonlinearity", "tanh"));
      cell->load_state_dict(fx, false);
      out = cell->forward(x, h0);
      m = cell;
    }
    hn = out;
  } else {
    nn::RNNOptions ro;
    ro.input_size = in;
    ro.hidden_size = hid;
    ro.num_layers = o.value("num_layers", 1);
    ro.nonlinearity = o.value("nonlinearity", "tanh");
    ro.bias = o.value("bias", true);
    ro.batch_first = o.value("batch_first", false);
    ro.bidirectional = o.value("bidirectional", false);
    std::shared_ptr<nn::RNNBase> r;
    if (kind == "LSTM") r = std::make_shared<nn::LSTM>(ro);
    else if (kind == "GRU") r = std::make_shared<nn::GRU>(ro);
    else r = std::make_shared<nn::RNN>(ro);
    r->load_state_dict(fx, false);
    nn::RNNOutput res = r->forward(x, h0, c0, lengths);
    out = res.output;
    hn = res.h_n;
    cn = res.c_n;
    m = r;
  }
  expect_close(out, fx.at("output"), "output");
  expect_close(hn, fx.at("h_n"), "h_n");
  if (fx.count("c_n")) expect_close(cn, fx.at("c_n"), "c_n");

  Tensor loss = add(sum(mul(out, fx.at("wo").to(DType::f32))), sum(mul(hn, fx.at("wh").to(DType::f32))));
  if (fx.count("wc")) loss = add(loss, sum(mul(cn, fx.at("wc").to(DType::f32))));
  loss.backward();
  expect_close(x.grad(), fx.at("grad.x"), "grad of x");
  expect_close(h0.grad(), fx.at("grad.h0"), "grad of h0");
  if (c0.defined()) expect_close(c0.grad(), fx.at("grad.c0"), "grad of c0");
  size_t checked = 0;
  for (auto& [name, p] : m->named_parameters()) {
    expect_close(p.grad(), fx.at("grad." + name), "grad of " + name);
    ++checked;
  }
  EXPECT_GT(checked, 0u);
}

INSTANTIATE_TEST_SUITE_P(Rnn, PeerRnn,
                         ::testing::Values("rnn_tanh_1", "rnn_relu_2_bi", "lstm_1", "lstm_2_bi_bf", "lstm_2_lengths",
                                           "lstm_bi_lengths_bf", "lstm_nobias", "gru_1", "gru_2_bi",
                                           "gru_2_bi_lengths_bf", "lstm_cell", "gru_cell", "rnn_cell"),
                         [](const auto& info) { return info.param; });

}  // namespace
