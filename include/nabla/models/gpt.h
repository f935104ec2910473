#pragma once
// A decoder-only transformer language model (GPT): token embedding, learned
// or rotary positions, pre-norm blocks of causal self-attention and a
// feed-forward network, a final norm and a read-out tied to the embedding.
// Its key/value cache is the RecurrentState, so `nabla generate` costs one
// step per new token and the text trainer carries it like a recurrent state.
#include <memory>
#include <string>

#include "nabla/models/char_rnn.h"
#include "nabla/nn/attention_variant.h"
#include "nabla/nn/positional.h"

namespace nabla::models {

/// The sizes and choices of a GPT.
struct GPTOptions {
  int64_t vocab = 96;
  int64_t layers = 4;
  int64_t width = 256;
  int64_t heads = 4;
  int64_t context = 128;             ///< the most positions a window (with its cache) may hold
  int64_t mlp_width = 0;             ///< 0: 4 x width (gelu), or 8/3 x width rounded up to 8 (swiglu)
  std::string activation = "gelu";   ///< gelu (exact, as nn.GELU) or swiglu
  std::string positions = "learned"; ///< learned (GPT-2's wpe) or rotary (RoFormer; no position table)
  bool tie_embeddings = true;        ///< head.weight is tok.weight (then the head has no bias)
  double dropout = 0.0;              ///< on the attention probabilities (softmax, window) and each residual branch
  /// softmax, or a variant: linear and retention keep a fixed-size state per
  /// layer instead of keys and values (a new token costs the same at any
  /// context), window keeps only the window's keys, relu keeps them all.
  nn::AttentionVariant attention;
};

/// One pre-norm block: x + proj(attention(ln1(x))), then x + mlp(ln2(x)). The
/// names follow ../shared/peer/torch_workloads.py's GPT (ln1, qkv, proj, ln2,
/// mlp.0 / mlp.2; with swiglu, mlp.w1 / w2 / w3). With retention, RetNet's
/// multi-scale retention: proj(silu(gate(ln1(x))) * gn(heads)), gn a group
/// norm per head.
class GPTBlock : public nn::Module {
 public:
  GPTBlock(const GPTOptions& o, std::shared_ptr<nn::RotaryEmbedding> rotary);
  /// x [B, T, width] at positions offset .. offset + T - 1; `k`, `v` hold the
  /// layer's state (undefined: none) and come back with this window's tokens
  /// in it: keys and values [B, heads, S, head_dim] (softmax and relu: all
  /// of them; window: the last window - 1), or linear attention's sums
  /// (kv [B, heads, head_dim, head_dim], z [B, heads, head_dim]), or
  /// retention's S in k (v undefined).
  Tensor forward(const Tensor& x, int64_t offset, Tensor& k, Tensor& v);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GPTBlock"; }

  std::shared_ptr<nn::LayerNorm> ln1, ln2;
  std::shared_ptr<nn::Linear> qkv, proj;
  std::shared_ptr<nn::Module> mlp;
  std::shared_ptr<nn::Linear> gate;    ///< retention only
  std::shared_ptr<nn::GroupNorm> gn;   ///< retention only

 private:
  GPTOptions o_;
  std::shared_ptr<nn::RotaryEmbedding> rotary_;
  Tensor log_decays_;  ///< retention: RetNet's per-head decays
};

/// The GPT. forward_state(tokens [B, T], state) gives logits [B, T, vocab];
/// the state is {tokens so far [B, S], then each layer's keys and values}.
/// When a window would pass the context, the cache keeps its last
/// min(S, context - T, context / 2) tokens (recomputed from their ids, so
/// learned positions restart at 0), so training windows of the full context
/// start afresh and generation recomputes once every context / 2 tokens.
class GPT : public LanguageModel {
 public:
  explicit GPT(const GPTOptions& o);
  Tensor forward_state(const Tensor& tokens, RecurrentState& state) override;
  using LanguageModel::forward;
  int64_t vocab_size() const override { return o_.vocab; }
  int64_t context_length() const override { return o_.context; }
  std::string type_name() const override { return "GPT"; }
  std::string extra_repr() const override;
  const GPTOptions& options() const { return o_; }

  std::shared_ptr<nn::Embedding> tok;
  std::shared_ptr<nn::LearnedPositionalEmbedding> pos;  ///< learned positions only
  std::shared_ptr<nn::ModuleList> blocks;
  std::shared_ptr<nn::LayerNorm> ln;
  std::shared_ptr<nn::Linear> head;

 private:
  // Logits of tokens at positions offset.., each block's cache in state[1 + 2l], state[2 + 2l].
  Tensor run(const Tensor& tokens, int64_t offset, RecurrentState& state);
  GPTOptions o_;
  std::shared_ptr<nn::RotaryEmbedding> rotary_;
};

/// The zoo's gpt: GPTOptions from cfg.transformer (0 or "" keeps the default),
/// vocabulary cfg.num_classes.
nn::ModulePtr gpt(const ModelConfig& cfg);

}  // namespace nabla::models
