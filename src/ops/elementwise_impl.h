#pragma once
// Shared machinery of the elementwise ops: dtype checks, typed maps, in-place.
#include <functional>

#include "nabla/autograd/node.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"
#include "ops/map.h"
#include "tensor/copy.h"

namespace nabla::detail {

/// Broadcast shape of a binary op after checking the dtypes agree.
inline Shape binary_shape(const Tensor& a, const Tensor& b, const char* op) {
  NABLA_CHECK(a.dtype() == b.dtype(), "{}: dtype mismatch: {} {} and {} {}", op, dtype_name(a.dtype()),
              shape_str(a.sizes()), dtype_name(b.dtype()), shape_str(b.sizes()));
  return broadcast_shapes(a.sizes(), b.sizes(), op);
}

/// out = f(a, b) in the operands' dtype; f is a generic lambda.
template <class F> Tensor binary_map(const char* op, const Tensor& a, const Tensor& b, F f) {
  Shape s = binary_shape(a, b, op);
  return dispatch_all(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return map_new<T, T, T>(s, [f](T x, T y) { return static_cast<T>(f(x, y)); }, a, b);
  });
}

/// out = f(x) for floating x.
template <class F> Tensor unary_float_map(const char* op, const Tensor& x, F f) {
  return dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return map_new<T, T>(x.sizes(), [f](T v) { return static_cast<T>(f(v)); }, x);
  });
}

/// out = f(x, g) for floating x and g of the same shape: derivative kernels
/// of activations, fused in one pass.
template <class F> Tensor grad_map(const char* op, const Tensor& x, const Tensor& g, F f) {
  return dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return map_new<T, T, T>(g.sizes(), [f](T xv, T gv) { return static_cast<T>(f(xv, gv)); }, x, g);
  });
}

/// A 0-dim tensor of t's dtype holding v (how scalars enter binary ops).
inline Tensor scalar_like(double v, const Tensor& t) { return scalar_tensor(v, t.dtype()); }

/// Runs an in-place op. When autograd records, the result is computed out of
/// place from a clone of self (so tensors saved by earlier nodes stay intact),
/// written back, and self takes over its history. Otherwise `direct` writes self.
Tensor& apply_inplace(Tensor& self, const char* op, const std::vector<Tensor>& others,
                      const std::function<Tensor(const Tensor&)>& out_of_place,
                      const std::function<void()>& direct = nullptr);

}  // namespace nabla::detail
