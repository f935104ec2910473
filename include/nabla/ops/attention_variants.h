#pragma once
// The literature's alternatives to softmax attention: linear attention,
// ReLU attention, retention, and the masks of sliding-window and
// neighborhood attention (which then run on the fused softmax kernel).
// Compositions of recorded ops, so every order of derivative works.
#include <optional>

#include "nabla/tensor/tensor.h"

namespace nabla {

/// Katharopoulos et al.'s feature map, elu(x) + 1: positive, so the
/// normalizer of linear attention is. Floating dtypes.
Tensor elu_feature_map(const Tensor& x);

/// The running sums that make causal linear attention a recurrence, over the
/// tokens seen so far: kv = sum_j phi(k_j)^T v_j [..., E, Ev] and
/// z = sum_j phi(k_j) [..., E]. Undefined: no tokens yet.
struct LinearAttentionState {
  Tensor kv, z;
};

/// Linear attention (Katharopoulos et al. 2020, "Transformers are RNNs"):
/// out_i = phi(q_i) sum_j phi(k_j)^T v_j / (phi(q_i) . sum_j phi(k_j) + eps),
/// phi = elu + 1, over q [..., L, E], k [..., S, E], v [..., S, Ev] -> [..., L, Ev].
/// `key_mask` (bool, broadcasting to [..., S]; true = attend) drops keys.
/// causal: query i sees keys j <= i (needs L == S); `state`, when given,
/// holds the sums of earlier calls' tokens (which come before this call's)
/// and comes back with this call's added, so decoding one token costs
/// O(E Ev) whatever the context. The causal form runs in chunks of `chunk`
/// tokens (quadratic inside a chunk, the recurrence across them; 1 is the
/// pure recurrence, 0 one chunk). f32, f64; bf16/f16 compute in f32.
Tensor linear_attention(const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& key_mask = Tensor(),
                        bool is_causal = false, LinearAttentionState* state = nullptr, int64_t chunk = 64,
                        double eps = 1e-6);

/// ReLU attention (Wortsman et al. 2023, "Replacing softmax with ReLU in
/// Vision Transformers"): relu(q k^T scale + mask) / n v, n the number of keys
/// the row may see (causality and -inf / false mask entries hide keys; at
/// least 1). Arguments and masks as scaled_dot_product_attention's (bool
/// true = attend, floating = added; is_causal top-left aligned). f32, f64;
/// bf16/f16 compute in f32.
Tensor relu_attention(const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& attn_mask = Tensor(),
                      bool is_causal = false, std::optional<double> scale = std::nullopt);

/// The weights relu(q k^T scale + mask) / n [..., L, S] relu_attention mixes
/// the values with, from the same arguments.
Tensor relu_attention_weights(const Tensor& query, const Tensor& key, const Tensor& attn_mask = Tensor(),
                              bool is_causal = false, std::optional<double> scale = std::nullopt);

/// RetNet's per-head decays as log gamma_h, gamma_h = 1 - 2^(-5 - h) for
/// h = 0 .. heads - 1 (Sun et al. 2023: multi-scale retention).
Tensor retention_log_decays(int64_t heads, DType dtype = DType::f32);

/// How retention is computed. The three give the same outputs (within
/// rounding); they differ in cost: parallel is quadratic in the length,
/// recurrent costs O(E Ev) a token, chunkwise is parallel inside chunks and
/// recurrent across them.
enum class RetentionForm { parallel, recurrent, chunkwise };

/// Retention (Sun et al. 2023, RetNet), causal: out_i = scale q_i S_i with
/// S_i = gamma S_{i-1} + k_i^T v_i, i.e. sum_{j <= i} gamma^(i-j) scale
/// (q_i . k_j) v_j, per head with its decay, over q, k [..., H, L, E] and
/// v [..., H, L, Ev] -> [..., H, L, Ev]; log_decay [H] (log gamma <= 0;
/// retention_log_decays gives RetNet's). `state` [..., H, E, Ev], when given,
/// is the S of the tokens before this call (undefined: none) and comes back
/// as the S after its last token. scale defaults to 1/sqrt(E). f32, f64;
/// bf16/f16 compute in f32.
Tensor retention(const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& log_decay,
                 RetentionForm form = RetentionForm::chunkwise, int64_t chunk = 64, Tensor* state = nullptr,
                 std::optional<double> scale = std::nullopt);

/// A sliding-window mask [L, S] (bool, true = attend) for queries at positions
/// offset .. offset + L - 1 and keys at 0 .. S - 1: the query at p sees keys
/// p - before .. p + after (before = window - 1, after = 0: Mistral's causal
/// window). offset defaults to S - L (the queries are the last L positions).
Tensor sliding_window_mask(int64_t L, int64_t S, int64_t before, int64_t after,
                           std::optional<int64_t> offset = std::nullopt);

/// Neighborhood attention's mask (Hassani et al. 2023) over `prefix` tokens
/// (a class token) followed by a grid_h x grid_w grid of patches in row-major
/// order: [N, N] bool, N = prefix + grid_h grid_w, true = attend. Each patch
/// sees the kernel x kernel patches around it, the window shifted inward at
/// the borders so that every patch sees exactly kernel^2 (kernel odd, at most
/// the grid); prefix tokens see and are seen by every token.
Tensor neighborhood_mask(int64_t grid_h, int64_t grid_w, int64_t kernel, int64_t prefix = 0);

}  // namespace nabla
