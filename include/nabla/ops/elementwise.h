#pragma once
// Elementwise arithmetic, math and comparisons with NumPy broadcasting.
// Binary ops require both operands to have the same dtype.
#include <optional>

#include "nabla/tensor/tensor.h"

namespace nabla {

/// a + alpha * b
/// The dtype of a binary op on a and b (PyTorch 1.13's torch.result_type):
/// operands with dimensions decide; a 0-dim operand only when its category
/// (integer < floating) is higher. So i64 [N] + 0-dim f32 is f32, f32 [N] +
/// 0-dim f64 stays f32, u8 [N] + i64 [N] is i64. A C++ double scalar counts as a
/// 0-dim f32 for integer tensors (i64 * 0.5 is f32) and as the tensor's dtype otherwise.
DType result_type(const Tensor& a, const Tensor& b);

Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);
/// a - alpha * b
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1.0);
Tensor mul(const Tensor& a, const Tensor& b);
/// True division (floating dtypes only).
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor neg(const Tensor& x);
/// x ** exponent
Tensor pow(const Tensor& x, double exponent);
/// x ** y, elementwise with broadcasting.
Tensor pow(const Tensor& x, const Tensor& y);
Tensor exp(const Tensor& x);
/// Sine and cosine (radians); floating dtypes (integers promote to f32).
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
/// Arc cosine in [0, pi] (NaN outside [-1, 1]); floating dtypes.
Tensor acos(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor square(const Tensor& x);
/// Limits x to [min, max]; either bound may be omitted.
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
/// cond ? a : b elementwise; `cond` is bool (or u8, nonzero = true); all three broadcast.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, double b);

// Comparisons return u8 (1 = true); not differentiable.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);
/// True when every element is within atol + rtol * |b| of b (shapes must broadcast).
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

/// x with `value` where mask (bool, or u8 read as nonzero = true; broadcast to x) is true.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

}  // namespace nabla
