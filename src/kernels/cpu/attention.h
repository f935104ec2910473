#pragma once
// Fused scaled dot-product attention on the CPU (FlashAttention's schedule):
// each thread takes a block of queries against blocks of keys, keeping one
// block of scores and a running max and sum per row (an online softmax), so
// memory grows with the sequence length, not its square. The forward saves
// the log-sum-exp of each row; the backward recomputes the probabilities from
// it. One query row against a long cache (decoding) splits the keys over the
// threads and merges their partial softmaxes. f32 and f64.
#include <cstdint>

namespace nabla::kernels {

/// One call's geometry. q [B, Hq, L, E], k [B, Hk, S, E], v [B, Hk, S, Ev],
/// out and dout [B, Hq, L, Ev], lse [B, Hq, L], all contiguous; query head h
/// reads key/value head h / (Hq / Hk). `mask` (optional, additive) holds the
/// score offset of (b, h, i, j) at b mask_b + h mask_h + i mask_i + j. Causal:
/// query i sees keys j <= i. Rows with no visible key give 0 and lse -inf.
struct AttentionGeom {
  int64_t B, Hq, Hk, L, S, E, Ev;
  double scale;
  bool causal;
  int64_t mask_b = 0, mask_h = 0, mask_i = 0;
};

template <class T>
void attention_forward(const AttentionGeom& g, const T* q, const T* k, const T* v, const T* mask, T* out, T* lse);

/// dq, dk, dv (each [like q, k, v]) from dout; any may be null when not wanted.
template <class T>
void attention_backward(const AttentionGeom& g, const T* q, const T* k, const T* v, const T* mask, const T* out,
                        const T* dout, const T* lse, T* dq, T* dk, T* dv);

}  // namespace nabla::kernels
