#pragma once
// The shape rule shared by layer_norm and rms_norm: x ends with
// normalized_shape, and so are weight and bias shaped.
#include "nabla/tensor/tensor.h"

namespace nabla::detail {

/// Checks x, weight and bias (each may be undefined) against normalized_shape;
/// returns the number of rows of normalized_shape's size that x holds.
inline int64_t normalized_rows(const Tensor& x, const Shape& ns, const Tensor& w, const Tensor& b, const char* op) {
  const int64_t k = static_cast<int64_t>(ns.size());
  bool ok = k >= 1 && k <= x.dim();
  for (int64_t i = 0; ok && i < k; ++i) ok = x.sizes()[x.dim() - k + i] == ns[i];
  NABLA_CHECK(ok, "{}: input {} does not end with normalized_shape {}", op, shape_str(x.sizes()), shape_str(ns));
  if (w.defined())
    NABLA_CHECK(w.sizes() == ns, "{}: weight {} must have normalized_shape {}", op, shape_str(w.sizes()),
                shape_str(ns));
  if (b.defined())
    NABLA_CHECK(b.sizes() == ns, "{}: bias {} must have normalized_shape {}", op, shape_str(b.sizes()),
                shape_str(ns));
  // Rows spelled out, not -1: with no elements, -1 would be ambiguous.
  return shape_numel(Shape(x.sizes().begin(), x.sizes().end() - k));
}

}  // namespace nabla::detail
