#pragma once
// Attention layers with PyTorch's names and conventions, so state_dicts load
// both ways.
#include <memory>
#include <string>

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
/// sees no key gives 0 (PyTorch 1.13 gives NaN). f32, f64.
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

  Tensor in_proj_weight, in_proj_bias, q_proj_weight, k_proj_weight, v_proj_weight, bias_k, bias_v;
  std::shared_ptr<Linear> out_proj;
  MultiheadAttentionOptions options;
};

}  // namespace nabla::nn
