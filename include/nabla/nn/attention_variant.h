#pragma once
// Which attention a layer computes: softmax on the fused kernel, or one of
// the literature's variants (ops/attention_variants.h), behind the one
// interface that nn::MultiheadAttention, the gpt blocks and the vit blocks use.
#include <cstdint>
#include <string>

#include "nabla/tensor/tensor.h"

namespace nabla::nn {

/// An attention variant and its size.
struct AttentionVariant {
  enum class Kind { softmax, linear, relu, retention, window, neighborhood };
  Kind kind = Kind::softmax;
  /// window: the keys a query sees, itself included (causal: the window - 1
  /// before it; otherwise (window - 1) / 2 before and window / 2 after).
  /// neighborhood: the side of the square of patches a patch sees (odd).
  int64_t size = 0;
  /// neighborhood: the tokens before the patch grid (vit's class token); the
  /// grid is square, side sqrt(L - prefix).
  int64_t prefix = 1;
  /// linear (causal) and retention: the chunk of the chunkwise form.
  int64_t chunk = 64;

  /// "softmax", "linear", "relu", "retention", "window:W" or
  /// "neighborhood:K" (what --attention takes); a clear error otherwise.
  static AttentionVariant parse(const std::string& spec);
  /// The spec parse() reads back.
  std::string str() const;
  /// linear and retention carry a fixed-size recurrent state instead of keys and values.
  bool recurrent() const { return kind == Kind::linear || kind == Kind::retention; }
  /// The variants whose weights form a matrix one can return (softmax, window, neighborhood, relu).
  bool has_weights() const { return !recurrent(); }
  bool operator==(const AttentionVariant&) const = default;
};

/// Attention of `variant` over heads q [N, H, L, E], k [N, H, S, E],
/// v [N, H, S, Ev] -> [N, H, L, Ev]. `mask` (additive, broadcasting to
/// [N, H, L, S]; undefined: none) and `key_keep` ([N, 1, S] bool, true =
/// attend; undefined: all) are the masks; linear attention and retention take
/// only key_keep (and retention none), a clear error otherwise. is_causal:
/// query i sees keys j <= i, with the queries the last L of the S positions
/// (so a cache's new tokens). dropout_p drops softmax and window weights.
/// Retention needs is_causal and L == S and returns the heads before their
/// group norm and gate (which are parameters of the layer).
Tensor variant_attention(const AttentionVariant& variant, const Tensor& q, const Tensor& k, const Tensor& v,
                         const Tensor& mask, const Tensor& key_keep, bool is_causal, double dropout_p = 0.0);

/// The weights [N, H, L, S] variant_attention mixes the values with (softmax,
/// window, neighborhood, relu), from the same arguments; an error for the
/// recurrent variants, which form none.
Tensor variant_attention_weights(const AttentionVariant& variant, const Tensor& q, const Tensor& k, const Tensor& mask,
                                 const Tensor& key_keep, bool is_causal);

}  // namespace nabla::nn
