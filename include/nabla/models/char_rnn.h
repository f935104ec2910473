#pragma once
// Character-level language models: embedding, a recurrent stack, and a linear
// read-out to the vocabulary, with the recurrent state carried between calls
// (truncated backpropagation through time, step-by-step generation).
#include <string>
#include <vector>

#include "nabla/models/zoo.h"
#include "nabla/nn/container.h"
#include "nabla/nn/layers.h"
#include "nabla/nn/minrnn.h"
#include "nabla/nn/rnn.h"

namespace nabla::models {

/// A recurrent model's state between calls; empty means "start from zeros".
using RecurrentState = std::vector<Tensor>;

/// A model that maps token ids [B, T] to next-token logits [B, T, V] and
/// carries a recurrent state from one call to the next.
class LanguageModel : public nn::Module {
 public:
  /// Runs `tokens` [B, T] (i64) from `state` and leaves the state after the
  /// last step in it; returns logits [B, T, vocab_size()].
  virtual Tensor forward_state(const Tensor& tokens, RecurrentState& state) = 0;
  /// From zero state.
  Tensor forward(const Tensor& tokens) override {
    RecurrentState s;
    return forward_state(tokens, s);
  }
  virtual int64_t vocab_size() const = 0;
  /// The most positions one window and its carried state may span (a
  /// transformer's context); 0: no limit (recurrent models).
  virtual int64_t context_length() const { return 0; }
};

/// The state cut off from the graph that made it (the truncation in truncated BPTT).
RecurrentState detach(const RecurrentState& state);

/// Embedding -> recurrent stack -> dropout -> Linear(hidden, vocab).
/// `cell` is "lstm" or "gru" (nn::LSTM / nn::GRU, dropout between layers) or
/// "mingru" (layer 0 a MinGRU from the embedding, each later layer a
/// pre-norm residual x + MinGRU(LayerNorm(x)); trained with the parallel scan,
/// generated one step at a time from the carried state).
class CharRNN : public LanguageModel {
 public:
  CharRNN(std::string cell, int64_t vocab, int64_t embed, int64_t hidden, int64_t layers, double dropout);
  Tensor forward_state(const Tensor& tokens, RecurrentState& state) override;
  using LanguageModel::forward;
  int64_t vocab_size() const override { return vocab_; }
  std::string type_name() const override { return "CharRNN"; }
  std::string extra_repr() const override;

  std::shared_ptr<nn::Embedding> emb;
  std::shared_ptr<nn::RNNBase> rnn;       ///< lstm, gru
  std::shared_ptr<nn::ModuleList> mingru; ///< mingru layers
  std::shared_ptr<nn::ModuleList> norms;  ///< mingru: LayerNorm before each layer after the first
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Linear> head;

 private:
  std::string cell_;
  int64_t vocab_, hidden_, layers_;
};

/// The zoo's char-lstm / char-gru / char-mingru: embedding 64, 2 layers of 256
/// (cfg.hidden: one size per layer, all equal), vocabulary cfg.num_classes.
nn::ModulePtr char_rnn(const ModelConfig& cfg, const std::string& cell);

}  // namespace nabla::models
