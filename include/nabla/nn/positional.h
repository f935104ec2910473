#pragma once
// Positions for attention models, and the SwiGLU feed-forward block: rotary
// embeddings, sinusoidal and learned absolute positions, ALiBi biases.
#include <memory>
#include <string>

#include "nabla/nn/layers.h"

namespace nabla::nn {

/// Rotary position embedding (Su et al. 2021, RoFormer) in the rotate-half
/// layout of GPT-NeoX and LLaMA: channel pairs (i, i + dim/2) of x [..., T, dim]
/// turn by position * base^(-2i/dim). No parameters; f32, f64.
class RotaryEmbedding : public Module {
 public:
  explicit RotaryEmbedding(int64_t dim, double base = 10000.0);
  /// x rotated for positions offset, ..., offset + T - 1 (offset: tokens already in a key/value cache).
  Tensor forward(const Tensor& x, int64_t offset);
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  std::string type_name() const override { return "RotaryEmbedding"; }
  std::string extra_repr() const override;
  int64_t dim;
  double base;
};

/// The sinusoidal encoding of Vaswani et al. (2017): [T, dim] with row p's
/// entries 2i and 2i + 1 sin and cos of p / 10000^(2i/dim), for p = offset ...
Tensor sinusoidal_positions(int64_t T, int64_t dim, int64_t offset = 0, DType dtype = DType::f32);

/// x [..., T, dim] + sinusoidal_positions(T, dim, offset). No parameters.
class SinusoidalPositionalEncoding : public Module {
 public:
  explicit SinusoidalPositionalEncoding(int64_t dim);
  Tensor forward(const Tensor& x, int64_t offset);
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  std::string type_name() const override { return "SinusoidalPositionalEncoding"; }
  int64_t dim;
};

/// x [..., T, dim] + weight[offset : offset + T]: learned absolute positions
/// (GPT-2's wpe), weight [max_positions, dim] ~ N(0, 0.02).
class LearnedPositionalEmbedding : public Module {
 public:
  LearnedPositionalEmbedding(int64_t max_positions, int64_t dim);
  Tensor forward(const Tensor& x, int64_t offset);
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  std::string type_name() const override { return "LearnedPositionalEmbedding"; }
  std::string extra_repr() const override;
  Tensor weight;
  int64_t max_positions, dim;
};

/// ALiBi (Press et al. 2022): each head's slope, 2^(-8/H) to the powers 1..H
/// (for H not a power of two, the paper's interleaving of the next power's).
Tensor alibi_slopes(int64_t heads, DType dtype = DType::f32);

/// The additive ALiBi bias [heads, L, S]: -slope_h |q_i - j| for queries at
/// positions q_i = S - L + i (the last L of S: a cache's new tokens). Combine it
/// with a causal mask for the paper's causal form.
Tensor alibi_bias(int64_t heads, int64_t L, int64_t S, DType dtype = DType::f32);

/// The SwiGLU feed-forward block (Shazeer 2020; LLaMA's names): w2(silu(w1 x) * w3 x),
/// w1 and w3 [hidden, dim], w2 [dim, hidden].
class SwiGLU : public Module {
 public:
  SwiGLU(int64_t dim, int64_t hidden, bool bias = false);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SwiGLU"; }
  std::shared_ptr<Linear> w1, w2, w3;
};

}  // namespace nabla::nn
