#pragma once
// exp, sigmoid and tanh for float written without branches or library calls,
// so loops over them vectorize (AVX-512: 16 lanes). libm's expf/tanhf are
// scalar calls and dominated the recurrent layers' gate loops. Accuracy: exp
// within ~2 ulp on [-87, 88] (inputs are clamped there); tanh and sigmoid
// within ~1e-7 absolute. double keeps libm: it serves gradient checks, not
// speed.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "kernels/cpu/isa_namespace.h"

namespace nabla::kernels {
inline namespace NABLA_ISA {

/// e^x: x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-7 polynomial
/// (Cephes' expf coefficients), 2^n written into the exponent bits.
inline float exp_fast(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  // Round to nearest by adding and removing 1.5 * 2^23 (floor would not vectorize without -ffast-math).
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // ln2 in two parts, so r stays exact
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  auto bits = static_cast<int32_t>(n + 127.0f) << 23;
  return p * std::bit_cast<float>(bits);
}

/// e^x, and exactly 0 below f32's normal range (exp_fast clamps its input,
/// so a masked -inf score would otherwise get weight 1e-38, not 0); double
/// keeps libm.
template <class T> T exp_or_zero(T x) {
  if constexpr (sizeof(T) == 4)
    return x < -87.0f ? 0.0f : exp_fast(x);
  else
    return std::exp(x);
}

/// 1 / (1 + e^-x).
inline float sigmoid_fast(float x) { return 1.0f / (1.0f + exp_fast(-x)); }

/// tanh x = sign(x) (1 - e^-2|x|) / (1 + e^-2|x|); near 0, where 1 - e^-2|x|
/// cancels, its Taylor series.
inline float tanh_fast(float x) {
  float ax = std::abs(x);
  float u = exp_fast(-2.0f * ax);
  float t = (1.0f - u) / (1.0f + u);
  float x2 = x * x;
  float series = x * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * -0.053968254f)));
  return ax < 0.0625f ? series : std::copysign(t, x);
}

/// log x for normal x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m by
/// Cephes' logf polynomial in f = m - 1.
inline float log_fast(float x) {
  auto bits = std::bit_cast<int32_t>(x);
  float e = static_cast<float>(((bits >> 23) & 0xff) - 127);
  float m = std::bit_cast<float>((bits & 0x007fffff) | 0x3f800000);  // [1, 2)
  bool big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  e = big ? e + 1.0f : e;
  float f = m - 1.0f, z = f * f;
  float y = 7.0376836292e-2f;
  y = y * f - 1.1514610310e-1f;
  y = y * f + 1.1676998740e-1f;
  y = y * f - 1.2420140846e-1f;
  y = y * f + 1.4249322787e-1f;
  y = y * f - 1.6668057665e-1f;
  y = y * f + 2.0000714765e-1f;
  y = y * f - 2.4999993993e-1f;
  y = y * f + 3.3333331174e-1f;
  y = y * f * z - 2.12194440e-4f * e - 0.5f * z;
  return f + y + 0.693359375f * e;
}

/// log(1 + e^x) = max(x, 0) + log1p(e^-|x|), with log1p(u) = log(1 + u) u / ((1 + u) - 1)
/// (exact where 1 + u rounds, u itself where 1 + u == 1).
inline float softplus_fast(float x) {
  float u = exp_fast(-std::abs(x)), w = 1.0f + u;
  float l = w == 1.0f ? u : log_fast(w) * (u / (w - 1.0f));
  return std::max(x, 0.0f) + l;
}

/// 1 + erf(x / sqrt 2) = 2 Phi(x), the factor of exact GELU, through erfc(z) =
/// t exp(-z^2 + P(t)), t = 1 / (1 + z / 2), z = |x| / sqrt 2, with Numerical
/// Recipes' Chebyshev fit P (relative error below 1.2e-7 for every z, so the
/// negative tail keeps its digits): 2 - erfc for x >= 0, erfc below.
inline float gelu_cdf2_fast(float x) {
  const float z = std::abs(x) * 0.70710678118654752f, t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  for (float c : {-0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f, -0.18628806f, 0.09678418f, 0.37409196f,
                  1.00002368f, -1.26551223f})
    p = p * t + c;
  const float erfc = t * exp_fast(std::max(-z * z + p, -87.0f));
  return x >= 0.0f ? 2.0f - erfc : erfc;
}

/// Exact (erf) GELU: x Phi(x).
inline float gelu_fast(float x) { return 0.5f * x * gelu_cdf2_fast(x); }

/// Its derivative times g: g (Phi(x) + x phi(x)).
inline float gelu_grad_fast(float x, float g) {
  const float pdf = 0.3989422804014327f * exp_fast(-0.5f * x * x);
  return g * (0.5f * gelu_cdf2_fast(x) + x * pdf);
}

inline double gelu_fast(double x) { return 0.5 * x * (1.0 + std::erf(x * 0.70710678118654752)); }
inline double gelu_grad_fast(double x, double g) {
  return g * (0.5 * (1.0 + std::erf(x * 0.70710678118654752)) + x * 0.3989422804014327 * std::exp(-0.5 * x * x));
}

inline double exp_fast(double x) { return std::exp(x); }
inline double log_fast(double x) { return std::log(x); }
inline double softplus_fast(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }
inline double sigmoid_fast(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double tanh_fast(double x) { return std::tanh(x); }

}  // namespace NABLA_ISA
}  // namespace nabla::kernels
