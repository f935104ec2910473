// Positional encodings and SwiGLU, from recorded ops (so they differentiate
// like everything else).
#include "nabla/nn/positional.h"

#include <fmt/format.h>

#include <cmath>
#include <utility>
#include <vector>

#include "nabla/nn/init.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/shape.h"
#include "nabla/tensor/factory.h"

namespace nabla::nn {

namespace {

void check_positions(const Tensor& x, int64_t dim, int64_t offset, const char* what) {
  NABLA_CHECK(x.dim() >= 2 && x.sizes().back() == dim, "{}: expected input [..., T, {}], got {}", what, dim,
              shape_str(x.sizes()));
  NABLA_CHECK(offset >= 0, "{}: offset must be non-negative, got {}", what, offset);
}

// cos and sin of (offset + t) base^(-2i/dim) for t < T, i < half: two [T, half]
// tensors of constants, computed in double.
std::pair<Tensor, Tensor> rotations(int64_t T, int64_t half, int64_t dim, int64_t offset, double base, DType dt) {
  std::vector<double> c(T * half), s(T * half);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < half; ++i) {
      const double a = static_cast<double>(offset + t) * std::pow(base, -2.0 * static_cast<double>(i) / dim);
      c[t * half + i] = std::cos(a);
      s[t * half + i] = std::sin(a);
    }
  return {from_vector(c, {T, half}, dt), from_vector(s, {T, half}, dt)};
}

}  // namespace

RotaryEmbedding::RotaryEmbedding(int64_t d, double b) : dim(d), base(b) {
  NABLA_CHECK(d > 0 && d % 2 == 0, "RotaryEmbedding: dim must be positive and even, got {}", d);
  NABLA_CHECK(b > 1, "RotaryEmbedding: base must be above 1, got {}", b);
}

Tensor RotaryEmbedding::forward(const Tensor& x, int64_t offset) {
  check_positions(x, dim, offset, "RotaryEmbedding");
  const int64_t T = x.sizes()[x.dim() - 2], half = dim / 2;
  auto [c, s] = rotations(T, half, dim, offset, base, x.dtype());
  Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return cat({sub(mul(x1, c), mul(x2, s)), add(mul(x2, c), mul(x1, s))}, -1);
}

std::string RotaryEmbedding::extra_repr() const { return fmt::format("dim={}, base={}", dim, base); }

Tensor sinusoidal_positions(int64_t T, int64_t dim, int64_t offset, DType dtype) {
  NABLA_CHECK(T >= 0 && dim > 0 && offset >= 0, "sinusoidal_positions: T {}, dim {} and offset {} must be valid", T,
              dim, offset);
  // Entries 2i and 2i + 1 share the frequency 10000^(-2i/dim).
  const int64_t half = (dim + 1) / 2;
  auto [c, s] = rotations(T, half, dim, offset, 10000.0, DType::f64);
  Tensor pe = stack({s, c}, -1).reshape({T, 2 * half});
  return pe.narrow(1, 0, dim).contiguous().to(dtype);
}

SinusoidalPositionalEncoding::SinusoidalPositionalEncoding(int64_t d) : dim(d) {
  NABLA_CHECK(d > 0, "SinusoidalPositionalEncoding: dim must be positive, got {}", d);
}

Tensor SinusoidalPositionalEncoding::forward(const Tensor& x, int64_t offset) {
  check_positions(x, dim, offset, "SinusoidalPositionalEncoding");
  return add(x, sinusoidal_positions(x.sizes()[x.dim() - 2], dim, offset, x.dtype()));
}

LearnedPositionalEmbedding::LearnedPositionalEmbedding(int64_t n, int64_t d) : max_positions(n), dim(d) {
  NABLA_CHECK(n > 0 && d > 0, "LearnedPositionalEmbedding: max_positions {} and dim {} must be positive", n, d);
  init::normal_(register_parameter("weight", weight, Tensor::empty({n, d})), 0.0, 0.02);
}

Tensor LearnedPositionalEmbedding::forward(const Tensor& x, int64_t offset) {
  check_positions(x, dim, offset, "LearnedPositionalEmbedding");
  const int64_t T = x.sizes()[x.dim() - 2];
  NABLA_CHECK(offset + T <= max_positions, "LearnedPositionalEmbedding: positions {} to {} exceed max_positions {}",
              offset, offset + T - 1, max_positions);
  return add(x, weight.narrow(0, offset, T));
}

std::string LearnedPositionalEmbedding::extra_repr() const { return fmt::format("{}, {}", max_positions, dim); }

Tensor alibi_slopes(int64_t heads, DType dtype) {
  NABLA_CHECK(heads > 0, "alibi_slopes: heads must be positive, got {}", heads);
  auto geometric = [](int64_t n) {  // 2^(-8/n), its square, ..., its n-th power
    std::vector<double> s(n);
    for (int64_t i = 0; i < n; ++i) s[i] = std::pow(2.0, -8.0 * static_cast<double>(i + 1) / static_cast<double>(n));
    return s;
  };
  int64_t p = 1;
  while (p * 2 <= heads) p *= 2;
  std::vector<double> s = geometric(p);
  if (p < heads) {  // the odd-indexed slopes of 2p heads fill the rest
    std::vector<double> more = geometric(2 * p);
    for (int64_t i = 0; static_cast<int64_t>(s.size()) < heads; i += 2) s.push_back(more[i]);
  }
  return from_vector(s, {heads}, dtype);
}

Tensor alibi_bias(int64_t heads, int64_t L, int64_t S, DType dtype) {
  NABLA_CHECK(L >= 0 && S >= L, "alibi_bias: expected 0 <= L <= S, got L {} and S {}", L, S);
  Tensor q = arange(static_cast<double>(S - L), static_cast<double>(S), 1.0, DType::f64).unsqueeze(1);
  Tensor k = arange(static_cast<double>(S), DType::f64).unsqueeze(0);
  Tensor dist = abs(sub(q, k));  // [L, S]
  return mul(neg(alibi_slopes(heads, DType::f64).reshape({heads, 1, 1})), dist.unsqueeze(0)).to(dtype);
}

SwiGLU::SwiGLU(int64_t dim, int64_t hidden, bool bias) {
  w1 = register_module("w1", std::make_shared<Linear>(dim, hidden, bias));
  w2 = register_module("w2", std::make_shared<Linear>(hidden, dim, bias));
  w3 = register_module("w3", std::make_shared<Linear>(dim, hidden, bias));
}

Tensor SwiGLU::forward(const Tensor& x) { return (*w2)(mul(silu((*w1)(x)), (*w3)(x))); }

}  // namespace nabla::nn
