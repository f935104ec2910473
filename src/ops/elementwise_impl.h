#pragma once
// Shared machinery of the elementwise ops: dtype checks, typed maps, in-place.
#include <functional>
#include <optional>
#include <type_traits>

#include "kernels/cpu/vec/table.h"

#include "nabla/autograd/node.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"
#include "ops/map.h"
#include "tensor/copy.h"

namespace nabla::detail {

/// Broadcast shape of a binary op after checking the dtypes agree.
inline Shape binary_shape(const Tensor& a, const Tensor& b, const char* op) {
  check_same_device(op, {&a, &b});
  NABLA_CHECK(a.dtype() == b.dtype(), "{}: dtype mismatch: {} {} and {} {}", op, dtype_name(a.dtype()),
              shape_str(a.sizes()), dtype_name(b.dtype()), shape_str(b.sizes()));
  return broadcast_shapes(a.sizes(), b.sizes(), op);
}

/// The dispatched kernel of a binary op (kernels/cpu/vec/table.h) for map_into_vec:
/// the first operand dense, the second dense or a broadcast scalar.
template <class T> struct BinaryVec {
  kernels::Binary op;
  bool accepts(const std::array<int64_t, 2>& steps) const { return steps[0] == 1; }
  void operator()(int64_t n, T* out, const std::array<int64_t, 2>& steps, const T* a, const T* b) const {
    kernels::vec_for<T>().binary(op, n, a, b, steps[1], out);
  }
};

/// The dispatched kernel of a unary op.
template <class T> struct UnaryVec {
  kernels::Unary op;
  bool accepts(const std::array<int64_t, 1>& steps) const { return steps[0] == 1; }
  void operator()(int64_t n, T* out, const std::array<int64_t, 1>&, const T* x) const {
    kernels::vec_for<T>().unary(op, n, x, out);
  }
};

/// kernel(a, b) for operands of one dtype, run in its compute_dtype(): a dtype
/// without compiled kernels (bf16, f16, bool, i32, i8) converts to it and the
/// result converts back, so 16-bit floats compute in f32 and round once.
template <class K> Tensor via_compute(const Tensor& a, const Tensor& b, K&& kernel) {
  const DType t = a.dtype(), c = compute_dtype(t);
  if (c == t) return kernel(a, b);
  return cast_raw(kernel(cast_raw(a, c), cast_raw(b, c)), t);
}

/// kernel(x) run in x's compute_dtype(), as the binary via_compute.
template <class K> Tensor via_compute(const Tensor& x, K&& kernel) {
  const DType t = x.dtype(), c = compute_dtype(t);
  if (c == t) return kernel(x);
  return cast_raw(kernel(cast_raw(x, c)), t);
}

/// out = f(a, b) in the operands' dtype; f is a generic lambda. With `vop`, float
/// operands in one dense layout run its dispatched kernel (which computes f exactly).
template <class F>
Tensor binary_map(const char* op, const Tensor& a, const Tensor& b, F f, std::optional<kernels::Binary> vop = {}) {
  Shape s = binary_shape(a, b, op);
  return via_compute(a, b, [&](const Tensor& x, const Tensor& y) {
    return dispatch_native(x.dtype(), op, [&](auto tag) {
      using T = typename decltype(tag)::type;
      auto fn = [f](T u, T v) { return static_cast<T>(f(u, v)); };
      if constexpr (std::is_floating_point_v<T>)
        if (vop) return map_new_vec<T, T, T>(s, fn, BinaryVec<T>{*vop}, x, y);
      return map_new<T, T, T>(s, fn, x, y);
    });
  });
}

/// x as a unary floating op (exp, log, sqrt, sigmoid, ...) takes it: integer and
/// bool tensors promote to f32, as in PyTorch (exp of an i64 tensor is f32).
inline Tensor float_operand(const Tensor& x) { return is_floating(x.dtype()) ? x : x.to(DType::f32); }

/// out = f(x) for floating x (with `vop` as binary_map's).
template <class F>
Tensor unary_float_map(const char* op, const Tensor& x0, F f, std::optional<kernels::Unary> vop = {}) {
  return via_compute(x0, [&](const Tensor& x) {
    return dispatch_floating(x.dtype(), op, [&](auto tag) {
      using T = typename decltype(tag)::type;
      auto fn = [f](T v) { return static_cast<T>(f(v)); };
      if (vop) return map_new_vec<T, T>(x.sizes(), fn, UnaryVec<T>{*vop}, x);
      return map_new<T, T>(x.sizes(), fn, x);
    });
  });
}

/// out = f(x, g) for floating x and g of the same shape: derivative kernels
/// of activations, fused in one pass (with `vop` as binary_map's).
template <class F>
Tensor grad_map(const char* op, const Tensor& x0, const Tensor& g0, F f, std::optional<kernels::Binary> vop = {}) {
  return via_compute(x0, cast_raw(g0, x0.dtype()), [&](const Tensor& x, const Tensor& g) {
    return dispatch_floating(x.dtype(), op, [&](auto tag) {
      using T = typename decltype(tag)::type;
      auto fn = [f](T xv, T gv) { return static_cast<T>(f(xv, gv)); };
      if (vop) return map_new_vec<T, T, T>(g.sizes(), fn, BinaryVec<T>{*vop}, x, g);
      return map_new<T, T, T>(g.sizes(), fn, x, g);
    });
  });
}

/// m as a mask: bool as is, u8 read as nonzero = true (the masks of nabla before
/// bool existed); any other dtype is refused.
inline Tensor bool_mask(const Tensor& m, const char* op) {
  NABLA_CHECK(m.dtype() == DType::boolean || m.dtype() == DType::u8, "{}: mask must be bool (or u8), got {} {}", op,
              dtype_name(m.dtype()), shape_str(m.sizes()));
  return cast_raw(m, DType::boolean);
}

/// A 0-dim tensor holding v, as a C++ scalar enters a binary op with t: of t's
/// dtype when t is floating, f32 when t holds integers (PyTorch's default dtype
/// for a Python float), so promotion makes i64 * 0.5 an f32 tensor.
inline Tensor scalar_like(double v, const Tensor& t) {
  return scalar_tensor(v, is_floating(t.dtype()) ? t.dtype() : DType::f32);
}

/// a and b converted to result_type(a, b), the dtype binary ops compute in.
std::pair<Tensor, Tensor> promoted(const Tensor& a, const Tensor& b);

/// Refuses an in-place write into `self` where two of its elements share memory
/// (an expanded view), or where an input partially overlaps it (x.add_(x.t())).
void check_inplace_overlap(const Tensor& self, const std::vector<Tensor>& inputs, const char* op);

/// Runs an in-place op. When autograd records, the result is computed out of
/// place from a clone of self (so tensors saved by earlier nodes stay intact),
/// written back, and self takes over its history. Otherwise `direct` writes self.
Tensor& apply_inplace(Tensor& self, const char* op, const std::vector<Tensor>& others,
                      const std::function<Tensor(const Tensor&)>& out_of_place,
                      const std::function<void()>& direct = nullptr);

}  // namespace nabla::detail
