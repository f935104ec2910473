// Affine u8 (de)quantization of contiguous f32 runs, as PyTorch's
// quantize_per_tensor: q = clamp(nearbyint(x / scale) + zero_point, 0, 255).
// One product, then integer arithmetic: no step an FMA could contract, so
// every ISA gives the same bytes.
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

}  // namespace nabla::kernels::NABLA_ISA
