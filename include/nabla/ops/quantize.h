#pragma once
// Fake quantization, as torch.fake_quantize_per_tensor_affine and
// fake_quantize_per_channel_affine: the values quantization to integers in
// [quant_min, quant_max] and back would give, with the straight-through
// gradient (the incoming gradient where the value was not clamped, 0 where it
// was). What quantization-aware training trains through. f32 and f64.
#include "nabla/tensor/tensor.h"

namespace nabla {

Tensor fake_quantize_per_tensor_affine(const Tensor& x, double scale, int64_t zero_point, int64_t quant_min,
                                       int64_t quant_max);
/// scale [C] (floating) and zero_point [C] (integer) along dim `axis` of x (size C).
Tensor fake_quantize_per_channel_affine(const Tensor& x, const Tensor& scale, const Tensor& zero_point, int64_t axis,
                                        int64_t quant_min, int64_t quant_max);

}  // namespace nabla
