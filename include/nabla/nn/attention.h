#pragma once
// Attention and transformer layers with PyTorch's names and conventions, so
// state_dicts load both ways.
#include <memory>
#include <string>

#include "nabla/nn/container.h"
#include "nabla/nn/layers.h"
#include "nabla/nn/options.h"

namespace nabla::nn {

/// The output of MultiheadAttention and, when asked for, its attention weights.
struct AttentionOutput {
  Tensor output;
  Tensor weights;  ///< undefined unless need_weights
};

/// torch.nn.MultiheadAttention: in_proj_weight [3E, E] and in_proj_bias (or
/// q/k/v_proj_weight when kdim or vdim differ from E), bias_k/bias_v with
/// add_bias_kv, out_proj. The output runs on the fused attention kernel, with
/// or without masks; the weights, when asked for, are computed beside it.
/// Boolean masks here follow PyTorch's MultiheadAttention: **true means
/// masked out** (the opposite of scaled_dot_product_attention's). A query that
/// sees no key gives 0 (PyTorch 1.13 gives NaN). options.attention() picks a
/// variant (AttentionVariant): linear attention takes only a bool
/// key_padding_mask and causality, retention only causality (and self-attention),
/// and neither forms weights (need_weights is refused). f32, f64; bf16/f16 compute in f32.
class MultiheadAttention : public Module {
 public:
  explicit MultiheadAttention(const MultiheadAttentionOptions& o);
  MultiheadAttention(int64_t embed_dim, int64_t num_heads)
      : MultiheadAttention(MultiheadAttentionOptions(embed_dim, num_heads)) {}
  /// query [L, N, E] ([N, L, E] with batch_first, [L, E] unbatched), key [S, N, kdim],
  /// value [S, N, vdim]; key_padding_mask [N, S] ([S] unbatched; bool true = ignore
  /// that key, or floating = added); attn_mask [L, S] or [N * num_heads, L, S]
  /// (bool true = not allowed, or floating = added); is_causal: query i sees keys
  /// j <= i (alone or with the masks). Weights: [N, L, S] averaged over heads, or
  /// [N, num_heads, L, S]; after dropout, as PyTorch's.
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                          const Tensor& attn_mask = Tensor(), bool average_attn_weights = true, bool is_causal = false);
  /// Self-attention of x, without weights (so the layer fits a Sequential).
  Tensor forward(const Tensor& x) override;
  /// {query, key, value[, key_padding_mask[, attn_mask]]} (undefined: none) -> {output, averaged weights}.
  Tensors forward_multi(const Tensors& inputs) override;
  std::string type_name() const override { return "MultiheadAttention"; }
  std::string extra_repr() const override;

 private:
  // The variants' path from the projected heads q, k, v [N, H, *, hd] on.
  AttentionOutput forward_variant(const Tensor& query, const Tensor& key_padding_mask, const Tensor& attn_mask,
                                  const Tensor& q, const Tensor& k, const Tensor& v, bool need_weights,
                                  bool average_attn_weights, bool is_causal);

 public:
  Tensor in_proj_weight, in_proj_bias, q_proj_weight, k_proj_weight, v_proj_weight, bias_k, bias_v;
  std::shared_ptr<Linear> out_proj;
  /// Retention only (RetNet's multi-scale retention): the output is
  /// out_proj(silu(gate_proj(query)) * group_norm(heads)), a group per head.
  std::shared_ptr<Linear> gate_proj;
  std::shared_ptr<GroupNorm> group_norm;
  MultiheadAttentionOptions options;
};

/// torch.nn.TransformerEncoderLayer: self-attention and a feed-forward block
/// (linear1, activation, linear2), each with dropout, residual and layer norm
/// (norm1, norm2) after it, or before it with norm_first.
class TransformerEncoderLayer : public Module {
 public:
  explicit TransformerEncoderLayer(const TransformerLayerOptions& o);
  /// src [S, N, E] ([N, S, E] batch_first, [S, E] unbatched); masks as MultiheadAttention's.
  Tensor forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask = Tensor(),
                 bool is_causal = false);
  Tensor forward(const Tensor& src) override { return forward(src, Tensor()); }
  /// {src[, src_mask[, src_key_padding_mask]]} -> {output}.
  Tensors forward_multi(const Tensors& inputs) override;
  std::string type_name() const override { return "TransformerEncoderLayer"; }
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<LayerNorm> norm1, norm2;
  TransformerLayerOptions options;
};

/// torch.nn.TransformerDecoderLayer: self-attention, attention over the
/// encoder's memory (multihead_attn) and the feed-forward block, with norm1..3.
class TransformerDecoderLayer : public Module {
 public:
  explicit TransformerDecoderLayer(const TransformerLayerOptions& o);
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = Tensor(),
                 const Tensor& memory_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor(), bool tgt_is_causal = false);
  /// {tgt, memory[, tgt_mask[, memory_mask[, tgt_key_padding_mask[, memory_key_padding_mask]]]]} -> {output}.
  Tensors forward_multi(const Tensors& inputs) override;
  std::string type_name() const override { return "TransformerDecoderLayer"; }
  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;
  TransformerLayerOptions options;
};

/// torch.nn.TransformerEncoder: num_layers encoder layers ("layers.0", ...) and
/// an optional final LayerNorm ("norm").
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const TransformerLayerOptions& layer, int64_t num_layers, bool final_norm = false);
  Tensor forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask = Tensor(),
                 bool is_causal = false);
  Tensor forward(const Tensor& src) override { return forward(src, Tensor()); }
  Tensors forward_multi(const Tensors& inputs) override;
  std::string type_name() const override { return "TransformerEncoder"; }
  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;
};

/// torch.nn.TransformerDecoder: num_layers decoder layers and an optional final LayerNorm.
class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const TransformerLayerOptions& layer, int64_t num_layers, bool final_norm = false);
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = Tensor(),
                 const Tensor& memory_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor(), bool tgt_is_causal = false);
  Tensors forward_multi(const Tensors& inputs) override;
  std::string type_name() const override { return "TransformerDecoder"; }
  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;
};

/// torch.nn.Transformer: an encoder and a decoder of `layer`'s sizes, each
/// with a final LayerNorm.
class Transformer : public Module {
 public:
  Transformer(const TransformerLayerOptions& layer, int64_t num_encoder_layers = 6, int64_t num_decoder_layers = 6);
  Tensor forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = Tensor(),
                 const Tensor& tgt_mask = Tensor(), const Tensor& memory_mask = Tensor(),
                 const Tensor& src_key_padding_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor());
  /// {src, tgt[, src_mask[, tgt_mask[, memory_mask]]]} -> {output}.
  Tensors forward_multi(const Tensors& inputs) override;
  std::string type_name() const override { return "Transformer"; }
  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;
};

}  // namespace nabla::nn
