// Affine u8 (de)quantization of contiguous f32 runs, as PyTorch's
// quantize_per_tensor: q = clamp(nearbyint(x / scale) + zero_point, 0, 255).
// One product, then integer arithmetic: no step an FMA could contract, so
// every ISA gives the same bytes.
#include <algorithm>

#include "kernels/cpu/vec/kernels.h"

namespace nabla::kernels::NABLA_ISA {

void quantize_u8(int64_t n, const float* __restrict x, float inv_scale, int32_t zero_point, uint8_t* __restrict q) {
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding and subtracting it rounds half to even
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i] * inv_scale;
    v = v > -1024.0f ? v : -1024.0f;  // NaN lands here too: a defined byte, never an out-of-range conversion
    v = v < 1024.0f ? v : 1024.0f;
    int32_t r = static_cast<int32_t>((v + kRound) - kRound) + zero_point;
    r = r < 0 ? 0 : r;
    q[i] = static_cast<uint8_t>(r > 255 ? 255 : r);
  }
}

void dequantize_u8(int64_t n, const uint8_t* __restrict q, float scale, int32_t zero_point, float* __restrict x) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(static_cast<int32_t>(q[i]) - zero_point) * scale;
}

void max_pool_u8_row(const U8PoolGeometry& g, const uint8_t* __restrict x, int64_t row, uint8_t* __restrict out) {
  const int64_t n = row / g.Ho, oh = row % g.Ho, C = g.C;
  const int64_t h0 = std::max<int64_t>(oh * g.sh - g.ph, 0), h1 = std::min<int64_t>(oh * g.sh - g.ph + g.kh, g.H);
  for (int64_t ow = 0; ow < g.Wo; ++ow) {
    uint8_t* __restrict o = out + ow * C;
    const int64_t w0 = std::max<int64_t>(ow * g.sw - g.pw, 0), w1 = std::min<int64_t>(ow * g.sw - g.pw + g.kw, g.W);
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) o[c] = 0;  // codes are >= 0 and every window holds a pixel
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) {
        const uint8_t* __restrict v = x + ((n * g.H + ih) * g.W + iw) * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) o[c] = o[c] > v[c] ? o[c] : v[c];
      }
  }
}

}  // namespace nabla::kernels::NABLA_ISA
