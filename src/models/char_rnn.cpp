#include "nabla/models/char_rnn.h"

#include "nabla/ops/elementwise.h"
#include "nabla/ops/shape.h"

namespace nabla::models {

RecurrentState detach(const RecurrentState& state) {
  RecurrentState out;
  out.reserve(state.size());
  for (const Tensor& t : state) out.push_back(t.defined() ? t.detach() : t);
  return out;
}

CharRNN::CharRNN(std::string cell, int64_t vocab, int64_t embed, int64_t hidden, int64_t layers, double dropout)
    : cell_(std::move(cell)), vocab_(vocab), hidden_(hidden), layers_(layers) {
  NABLA_CHECK(vocab > 0 && embed > 0 && hidden > 0 && layers > 0,
              "CharRNN: vocabulary, embedding, hidden size and layers must be positive, got {}, {}, {}, {}", vocab,
              embed, hidden, layers);
  emb = register_module("emb", std::make_shared<nn::Embedding>(vocab, embed));
  if (cell_ == "lstm" || cell_ == "gru") {
    nn::RNNOptions o;
    o.input_size = embed;
    o.hidden_size = hidden;
    o.num_layers = layers;
    o.batch_first = true;
    o.dropout = dropout;
    if (cell_ == "lstm") rnn = register_module("rnn", std::make_shared<nn::LSTM>(o));
    else rnn = register_module("rnn", std::make_shared<nn::GRU>(o));
  } else if (cell_ == "mingru") {
    mingru = register_module("mingru", std::make_shared<nn::ModuleList>());
    norms = register_module("norms", std::make_shared<nn::ModuleList>());
    for (int64_t l = 0; l < layers; ++l) {
      mingru->push_back(std::make_shared<nn::MinGRU>(l == 0 ? embed : hidden, hidden));
      if (l > 0) norms->push_back(std::make_shared<nn::LayerNorm>(Shape{hidden}));
    }
  } else {
    throw Error(fmt::format("CharRNN: unknown cell '{}' (expected lstm, gru or mingru)", cell_));
  }
  drop = register_module("drop", std::make_shared<nn::Dropout>(dropout));
  head = register_module("head", std::make_shared<nn::Linear>(hidden, vocab));
}

std::string CharRNN::extra_repr() const {
  return fmt::format("cell={}, vocab={}, hidden={}, layers={}", cell_, vocab_, hidden_, layers_);
}

Tensor CharRNN::forward_state(const Tensor& tokens, RecurrentState& state) {
  NABLA_CHECK(tokens.dim() == 2 && tokens.dtype() == DType::i64, "{}: expected token ids [batch, time] (i64), got {} {}",
              type_name(), dtype_name(tokens.dtype()), shape_str(tokens.sizes()));
  const int64_t T = tokens.size(1);
  Tensor x = (*emb)(tokens);  // [B, T, E]
  if (rnn) {
    size_t want = cell_ == "lstm" ? 2 : 1;
    NABLA_CHECK(state.empty() || state.size() == want, "{}: a {} state holds {} tensors, got {}", type_name(), cell_,
                want, state.size());
    nn::RNNOutput r = state.empty() ? rnn->forward(x, Tensor())
                                    : rnn->forward(x, state[0], want == 2 ? state[1] : Tensor());
    state = want == 2 ? RecurrentState{r.h_n, r.c_n} : RecurrentState{r.h_n};
    x = r.output;
  } else {
    NABLA_CHECK(state.empty() || state.size() == static_cast<size_t>(layers_),
                "{}: a mingru state holds one tensor per layer ({}), got {}", type_name(), layers_, state.size());
    RecurrentState next;
    for (int64_t l = 0; l < layers_; ++l) {
      auto& cell = static_cast<nn::MinGRU&>(*(*mingru)[static_cast<size_t>(l)]);
      Tensor in = l == 0 ? x : (*(*norms)[static_cast<size_t>(l - 1)])(x);
      Tensor h0 = state.empty() ? Tensor() : state[static_cast<size_t>(l)];
      // One token (generation) runs the recurrence as a step; longer inputs take the scan.
      Tensor h = T == 1 ? cell.step(in.select(1, 0), h0).unsqueeze(1)
                        : cell.forward(in, h0);
      next.push_back(h.select(1, T - 1));
      x = l == 0 ? h : add(x, h);
    }
    state = std::move(next);
  }
  return (*head)((*drop)(x));
}

nn::ModulePtr char_rnn(const ModelConfig& cfg, const std::string& cell) {
  int64_t hidden = 256, layers = 2;
  if (!cfg.hidden.empty()) {
    hidden = cfg.hidden[0];
    layers = static_cast<int64_t>(cfg.hidden.size());
    for (int64_t h : cfg.hidden)
      NABLA_CHECK(h == hidden, "char-{}: --hidden gives one size per layer and they must be equal, got {}", cell,
                  fmt::join(cfg.hidden, ","));
  }
  return std::make_shared<CharRNN>(cell, cfg.num_classes, 64, hidden, layers, cfg.dropout);
}

}  // namespace nabla::models
