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

namespace nabla::kernels {

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

inline double exp_fast(double x) { return std::exp(x); }
inline double sigmoid_fast(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double tanh_fast(double x) { return std::tanh(x); }

}  // namespace nabla::kernels
