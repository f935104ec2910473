#pragma once
// Scaled dot-product attention (PyTorch 2's F.scaled_dot_product_attention).
#include <optional>

#include "nabla/tensor/generator.h"
#include "nabla/tensor/tensor.h"

namespace nabla {

/// softmax(q k^T scale + mask) v over query [..., Hq, L, E], key [..., Hk, S, E]
/// and value [..., Hk, S, Ev] (any number of equal leading dims, or none),
/// giving [..., Hq, L, Ev]. `attn_mask` broadcasts to [..., Hq, L, S] and is
/// either bool, where **true means attend** (PyTorch 2's SDPA convention, the
/// opposite of nn::MultiheadAttention's), or floating and added to the scores.
/// `is_causal`: query i sees keys j <= i (may be combined with a mask). scale
/// defaults to 1/sqrt(E). `enable_gqa`: Hq a multiple of Hk, query head h reading
/// key/value head h / (Hq / Hk). dropout_p > 0 drops attention weights
/// (always, as PyTorch's functional form does). A row that sees no key gives 0
/// (PyTorch's math path gives NaN).
///
/// Runs on the fused kernel (kernels/cpu/attention.h: memory linear in the
/// sequence length, the backward recomputing the probabilities), whose
/// reference and second derivative is scaled_dot_product_attention_math;
/// dropout, a mask that needs a gradient and empty inputs take the
/// composition. f32, f64; bf16/f16 compute in f32.
Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask = Tensor(), double dropout_p = 0.0, bool is_causal = false,
                                    std::optional<double> scale = std::nullopt, bool enable_gqa = false,
                                    Generator* gen = nullptr);

/// The same as a plain composition of recorded ops (matmul, mask, softmax,
/// dropout, matmul): the fused kernel's reference, differentiable to any order.
Tensor scaled_dot_product_attention_math(const Tensor& query, const Tensor& key, const Tensor& value,
                                         const Tensor& attn_mask = Tensor(), double dropout_p = 0.0,
                                         bool is_causal = false, std::optional<double> scale = std::nullopt,
                                         bool enable_gqa = false, Generator* gen = nullptr);

/// The attention weights alone, softmax(q k^T scale + mask) [..., Hq, L, S]
/// with the same arguments and rules (rows that see no key are 0), from
/// recorded ops: what nn::MultiheadAttention returns with need_weights.
Tensor scaled_dot_product_attention_weights(const Tensor& query, const Tensor& key, const Tensor& attn_mask = Tensor(),
                                            bool is_causal = false, std::optional<double> scale = std::nullopt,
                                            bool enable_gqa = false);

}  // namespace nabla
