#include "nabla/nn/rnn.h"

#include <cmath>

#include "nabla/nn/init.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/norm.h"
#include "nabla/ops/recurrent.h"
#include "nabla/ops/shape.h"
#include "nabla/tensor/factory.h"

namespace nabla::nn {

namespace {

// PyTorch initializes every recurrent weight and bias from U(-1/sqrt(H), 1/sqrt(H)).
void init_recurrent(Tensor& t, int64_t hidden) {
  double k = 1.0 / std::sqrt(static_cast<double>(hidden));
  init::uniform_(t, -k, k);
}

}  // namespace

RNNBase::RNNBase(std::string mode, int64_t gates, RNNOptions o) : options(std::move(o)), mode_(std::move(mode)),
                                                                   gates_(gates) {
  const RNNOptions& p = options;
  NABLA_CHECK(p.input_size > 0 && p.hidden_size > 0 && p.num_layers > 0,
              "{}: input_size, hidden_size and num_layers must be positive, got {}, {}, {}", mode_, p.input_size,
              p.hidden_size, p.num_layers);
  NABLA_CHECK(p.dropout >= 0 && p.dropout < 1, "{}: dropout must be in [0, 1), got {}", mode_, p.dropout);
  int64_t D = p.bidirectional ? 2 : 1, G = gates_ * p.hidden_size;
  // The registry keeps the address of each slot: sized once, never reallocated.
  for (auto* v : {&w_ih_, &w_hh_, &b_ih_, &b_hh_}) v->resize(static_cast<size_t>(p.num_layers * D));
  for (int64_t l = 0; l < p.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      std::string sfx = "_l" + std::to_string(l) + (d ? "_reverse" : "");
      int64_t in = l == 0 ? p.input_size : p.hidden_size * D;
      const size_t k = static_cast<size_t>(l * D + d);
      register_parameter("weight_ih" + sfx, w_ih_[k], empty({G, in}));
      register_parameter("weight_hh" + sfx, w_hh_[k], empty({G, p.hidden_size}));
      if (p.bias) {
        register_parameter("bias_ih" + sfx, b_ih_[k], empty({G}));
        register_parameter("bias_hh" + sfx, b_hh_[k], empty({G}));
      }
    }
  for (auto& [name, t] : named_parameters(false)) init_recurrent(t, p.hidden_size);
}

RNNOutput RNNBase::forward(const Tensor& x, const Tensor& h0, const Tensor& c0, const std::vector<int64_t>& lengths) {
  const RNNOptions& p = options;
  const bool lstm = mode_ == "lstm";
  const int64_t D = p.bidirectional ? 2 : 1, H = p.hidden_size, L = p.num_layers;
  NABLA_CHECK(x.dim() == 2 || x.dim() == 3, "{}: expected input [T, B, {}]{} or unbatched [T, {}], got {}",
              type_name(), p.input_size, p.batch_first ? " (batch_first: [B, T, F])" : "", p.input_size,
              shape_str(x.sizes()));
  bool unbatched = x.dim() == 2;
  Tensor in = unbatched ? x.unsqueeze(1) : p.batch_first ? x.transpose(0, 1) : x;  // [T, B, F]
  NABLA_CHECK(in.size(2) == p.input_size, "{}: input has {} features, expected input_size {} (input {})", type_name(),
              in.size(2), p.input_size, shape_str(x.sizes()));
  const int64_t T = in.size(0), B = in.size(1);
  auto initial = [&](const Tensor& s, const char* what) {
    if (!s.defined()) return zeros({L * D, B, H}, x.dtype());
    Tensor s3 = unbatched && s.dim() == 2 ? s.unsqueeze(1) : s;
    NABLA_CHECK(s3.dim() == 3 && s3.size(0) == L * D && s3.size(1) == B && s3.size(2) == H,
                "{}: {} must be [{}, {}, {}] (num_layers * directions, batch, hidden), got {}", type_name(), what,
                L * D, B, H, shape_str(s.sizes()));
    return s3;
  };
  Tensor h_init = initial(h0, "h0");
  Tensor c_init = lstm ? initial(c0, "c0") : Tensor();
  NABLA_CHECK(lstm || !c0.defined(), "{}: only LSTM takes a cell state c0", type_name());

  std::vector<Tensor> h_last, c_last;
  for (int64_t l = 0; l < L; ++l) {
    std::vector<Tensor> outs;
    Tensor flat = in.reshape({T * B, in.size(2)});
    for (int64_t d = 0; d < D; ++d) {
      size_t k = static_cast<size_t>(l * D + d);
      Tensor xg = linear(flat, w_ih_[k], b_ih_[k]).view({T, B, gates_ * H});
      RecurrentResult r = recurrent_layer(mode_, xg, h_init.select(0, static_cast<int64_t>(k)),
                                          lstm ? c_init.select(0, static_cast<int64_t>(k)) : Tensor(), w_hh_[k],
                                          b_hh_[k], lengths, d == 1);
      outs.push_back(r.output);
      h_last.push_back(r.h_n);
      if (lstm) c_last.push_back(r.c_n);
    }
    in = D == 2 ? cat(outs, 2) : outs[0];
    if (l + 1 < L && p.dropout > 0) in = dropout(in, p.dropout, is_training());
  }
  RNNOutput out;
  out.output = unbatched ? in.squeeze(1) : p.batch_first ? in.transpose(0, 1) : in;
  out.h_n = stack(h_last, 0);
  if (lstm) out.c_n = stack(c_last, 0);
  if (unbatched) {
    out.h_n = out.h_n.squeeze(1);
    if (lstm) out.c_n = out.c_n.squeeze(1);
  }
  return out;
}

std::string RNNBase::extra_repr() const {
  const RNNOptions& p = options;
  std::string s = fmt::format("{}, {}", p.input_size, p.hidden_size);
  if (p.num_layers != 1) s += fmt::format(", num_layers={}", p.num_layers);
  if (mode_ == "rnn_relu") s += ", nonlinearity='relu'";
  if (!p.bias) s += ", bias=False";
  if (p.batch_first) s += ", batch_first=True";
  if (p.dropout > 0) s += fmt::format(", dropout={}", p.dropout);
  if (p.bidirectional) s += ", bidirectional=True";
  return s;
}

namespace {
std::string rnn_mode(Nonlinearity nonlinearity) {
  NABLA_CHECK(nonlinearity == Nonlinearity::tanh || nonlinearity == Nonlinearity::relu,
              "RNN: nonlinearity must be tanh or relu, got '{}'", nonlinearity.name());
  return std::string("rnn_") + nonlinearity.name();
}
}  // namespace

RNN::RNN(RNNOptions o) : RNNBase(rnn_mode(o.nonlinearity), 1, o) {}
LSTM::LSTM(RNNOptions o) : RNNBase("lstm", 4, std::move(o)) {}
GRU::GRU(RNNOptions o) : RNNBase("gru", 3, std::move(o)) {}

RNNCellBase::RNNCellBase(std::string mode, int64_t gates, int64_t in, int64_t hidden, bool bias)
    : input_size(in), hidden_size(hidden), mode_(std::move(mode)) {
  NABLA_CHECK(in > 0 && hidden > 0, "{}: input_size and hidden_size must be positive, got {} and {}", mode_, in,
              hidden);
  register_parameter("weight_ih", weight_ih, empty({gates * hidden, in}));
  register_parameter("weight_hh", weight_hh, empty({gates * hidden, hidden}));
  if (bias) {
    register_parameter("bias_ih", bias_ih, empty({gates * hidden}));
    register_parameter("bias_hh", bias_hh, empty({gates * hidden}));
  }
  for (auto& [name, t] : named_parameters(false)) init_recurrent(t, hidden);
}

Tensors RNNBase::forward_multi(const Tensors& in) {
  const bool lstm = mode_ == "lstm";
  NABLA_CHECK(!in.empty() && in.size() <= (lstm ? 3u : 2u), "{}: takes {} (input, h0{}), got {} tensors", type_name(),
              lstm ? "1 to 3" : "1 or 2", lstm ? ", c0" : "", in.size());
  RNNOutput r = forward(in[0], in.size() > 1 ? in[1] : Tensor(), in.size() > 2 ? in[2] : Tensor());
  return lstm ? Tensors{r.output, r.h_n, r.c_n} : Tensors{r.output, r.h_n};
}

Tensors RNNCellBase::forward_multi(const Tensors& in) {
  const bool lstm = mode_ == "lstm";
  NABLA_CHECK(!in.empty() && in.size() <= (lstm ? 3u : 2u), "{}: takes {} (input, h{}), got {} tensors", type_name(),
              lstm ? "1 to 3" : "1 or 2", lstm ? ", c" : "", in.size());
  auto [h, c] = step(in[0], in.size() > 1 ? in[1] : Tensor(), in.size() > 2 ? in[2] : Tensor());
  return lstm ? Tensors{h, c} : Tensors{h};
}

std::pair<Tensor, Tensor> RNNCellBase::step(const Tensor& x, const Tensor& h, const Tensor& c) {
  NABLA_CHECK((x.dim() == 1 || x.dim() == 2) && x.size(-1) == input_size,
              "{}: expected input [B, {}] or [{}], got {}", type_name(), input_size, input_size, shape_str(x.sizes()));
  bool unbatched = x.dim() == 1;
  Tensor x2 = unbatched ? x.unsqueeze(0) : x;
  int64_t B = x2.size(0);
  auto state = [&](const Tensor& s, const char* what) {
    if (!s.defined()) return zeros({B, hidden_size}, x.dtype());
    Tensor s2 = unbatched && s.dim() == 1 ? s.unsqueeze(0) : s;
    NABLA_CHECK(s2.dim() == 2 && s2.size(0) == B && s2.size(1) == hidden_size, "{}: {} must be [{}, {}], got {}",
                type_name(), what, B, hidden_size, shape_str(s.sizes()));
    return s2;
  };
  bool lstm = mode_ == "lstm";
  Tensor xg = linear(x2, weight_ih, bias_ih).unsqueeze(0);
  RecurrentResult r = recurrent_layer(mode_, xg, state(h, "hx"), lstm ? state(c, "cx") : Tensor(), weight_hh,
                                      bias_hh);
  if (unbatched) return {r.h_n.squeeze(0), lstm ? r.c_n.squeeze(0) : Tensor()};
  return {r.h_n, r.c_n};
}

std::string RNNCellBase::extra_repr() const {
  return fmt::format("{}, {}{}", input_size, hidden_size, bias_ih.defined() ? "" : ", bias=False");
}

RNNCell::RNNCell(int64_t in, int64_t hidden, bool bias, Nonlinearity nonlinearity)
    : RNNCellBase(rnn_mode(nonlinearity), 1, in, hidden, bias) {}
LSTMCell::LSTMCell(int64_t in, int64_t hidden, bool bias) : RNNCellBase("lstm", 4, in, hidden, bias) {}
GRUCell::GRUCell(int64_t in, int64_t hidden, bool bias) : RNNCellBase("gru", 3, in, hidden, bias) {}

}  // namespace nabla::nn
