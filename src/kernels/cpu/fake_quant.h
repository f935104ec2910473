#pragma once
// Fake quantization (quantize then dequantize, in floating point) with
// PyTorch's arithmetic: q = clamp(nearbyint(x * (1 / scale)) + zero_point,
// qmin, qmax), y = (q - zero_point) * scale, and the straight-through mask
// (1 where the unclamped q is within [qmin, qmax]).
#include <cstdint>

namespace nabla::kernels {

/// x, y and mask (may be null) hold n contiguous elements; element i uses
/// scale[(i / inner) % channels] and zero_point[...] (channels 1: one pair).
template <class T>
void fake_quantize(const T* x, T* y, uint8_t* mask, int64_t n, int64_t channels, int64_t inner, const float* scale,
                   const int32_t* zero_point, int64_t qmin, int64_t qmax);

}  // namespace nabla::kernels
