// Fake quantization: the kernel computes values and the straight-through mask;
// the backward multiplies the gradient by the mask.
#include "nabla/ops/quantize.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/fake_quant.h"
#include "nabla/autograd/node.h"
#include "nabla/ops/elementwise.h"
#include "nabla/tensor/factory.h"

namespace nabla {

namespace {

Tensor fake_quantize(const Tensor& x, std::vector<float> scale, std::vector<int32_t> zp, int64_t axis, int64_t qmin,
                     int64_t qmax, const char* op) {
  NABLA_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, "{}: expected an f32 or f64 tensor, got {}", op,
              dtype_name(x.dtype()));
  NABLA_CHECK(qmin <= qmax, "{}: quant_min {} is above quant_max {}", op, qmin, qmax);
  for (size_t c = 0; c < scale.size(); ++c) {
    NABLA_CHECK(std::isfinite(scale[c]) && scale[c] > 0, "{}: scale must be positive and finite, got {}", op, scale[c]);
    NABLA_CHECK(zp[c] >= qmin && zp[c] <= qmax, "{}: zero_point {} is outside [{}, {}]", op, zp[c], qmin, qmax);
  }
  Tensor xc = x.detach().contiguous();
  Tensor y = Tensor::empty(x.sizes(), x.dtype()), mask = Tensor::empty(x.sizes(), DType::u8);
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < x.dim(); ++d) inner *= x.size(d);
  const int64_t C = static_cast<int64_t>(scale.size());
  if (x.dtype() == DType::f32)
    kernels::fake_quantize(xc.const_data<float>(), y.mutable_data<float>(), mask.mutable_data<uint8_t>(), x.numel(), C,
                           inner, scale.data(), zp.data(), qmin, qmax);
  else
    kernels::fake_quantize(xc.const_data<double>(), y.mutable_data<double>(), mask.mutable_data<uint8_t>(), x.numel(),
                           C, inner, scale.data(), zp.data(), qmin, qmax);
  autograd::record(
      y, op, {x}, [mask](const Tensor& g) { return std::vector<Tensor>{mul(g, mask.to(g.dtype()))}; }, {},
      autograd::Backward::differentiable);
  return y;
}

}  // namespace

Tensor fake_quantize_per_tensor_affine(const Tensor& x, double scale, int64_t zero_point, int64_t qmin, int64_t qmax) {
  NABLA_CHECK(zero_point >= qmin && zero_point <= qmax, "fake_quantize_per_tensor_affine: zero_point {} is outside "
              "[{}, {}]", zero_point, qmin, qmax);
  return fake_quantize(x, {static_cast<float>(scale)}, {static_cast<int32_t>(zero_point)}, x.dim() - 1, qmin, qmax,
                       "fake_quantize_per_tensor_affine");
}

Tensor fake_quantize_per_channel_affine(const Tensor& x, const Tensor& scale, const Tensor& zero_point, int64_t axis,
                                        int64_t qmin, int64_t qmax) {
  const char* op = "fake_quantize_per_channel_affine";
  NABLA_CHECK(x.dim() >= 1, "{}: expected at least 1 dim, got {}", op, shape_str(x.sizes()));
  if (axis < 0) axis += x.dim();
  NABLA_CHECK(axis >= 0 && axis < x.dim(), "{}: axis out of range for {}", op, shape_str(x.sizes()));
  NABLA_CHECK(scale.dim() == 1 && zero_point.dim() == 1 && scale.size(0) == x.size(axis) &&
                  zero_point.size(0) == x.size(axis),
              "{}: scale {} and zero_point {} must be [{}] (x {} along dim {})", op, shape_str(scale.sizes()),
              shape_str(zero_point.sizes()), x.size(axis), shape_str(x.sizes()), axis);
  std::vector<float> s = scale.detach().to(DType::f32).contiguous().to_vector<float>();
  std::vector<int64_t> z = zero_point.detach().to(DType::i64).contiguous().to_vector<int64_t>();
  for (int64_t v : z) NABLA_CHECK(v >= qmin && v <= qmax, "{}: zero_point {} is outside [{}, {}]", op, v, qmin, qmax);
  std::vector<int32_t> z32(z.begin(), z.end());
  if (s.empty()) return fake_quantize(x, {1.0f}, {static_cast<int32_t>(qmin)}, axis, qmin, qmax, op);
  return fake_quantize(x, s, z32, axis, qmin, qmax, op);
}

}  // namespace nabla
