#pragma once
// 16-bit floats in ops whose kernels exist for f32 and f64 only, and
// autocast's casts. Such an op computes in f32 and rounds its result back
// once, through recorded conversions, so its gradient is the f32 op's
// gradient rounded the same way (as PyTorch's CPU kernels for bf16 compute
// in f32). A fast native path (oneDNN's bf16 kernels on AVX512_BF16/AMX CPUs)
// would replace the conversion, not the semantics.
#include <initializer_list>
#include <optional>

#include "kernels/cpu/dnnl_runtime.h"
#include "nabla/tensor/autocast.h"
#include "nabla/tensor/tensor.h"

namespace nabla::detail {

/// The 16-bit float dtype shared by every defined floating operand, if there is one.
inline std::optional<DType> shared_reduced(std::initializer_list<const Tensor*> ts) {
  std::optional<DType> r;
  for (const Tensor* t : ts) {
    if (!t->defined() || !is_floating(t->dtype())) continue;
    if (!is_reduced_float(t->dtype()) || (r && *r != t->dtype())) return std::nullopt;
    r = t->dtype();
  }
  return r;
}

/// The promoted dtype of the operands when one of them is a 16-bit float (for
/// losses, which widen every operand), else none.
inline std::optional<DType> any_reduced(std::initializer_list<const Tensor*> ts) {
  std::optional<DType> r;
  bool reduced = false;
  for (const Tensor* t : ts) {
    if (!t->defined() || !is_floating(t->dtype())) continue;
    reduced = reduced || is_reduced_float(t->dtype());
    r = r ? promote_types(*r, t->dtype()) : t->dtype();
  }
  return reduced ? r : std::nullopt;
}

/// t widened to f32 when it is a 16-bit float (recorded), else t.
inline Tensor widened(const Tensor& t) {
  return t.defined() && is_reduced_float(t.dtype()) ? t.to(DType::f32) : t;
}

/// fn() (an op on widened operands) rounded to `to`, with autocast suspended so
/// the f32 computation is not cast down again.
template <class F> Tensor in_f32(DType to, F&& fn) {
  AutocastGuard off(to, false);
  Tensor r = fn();
  return is_floating(r.dtype()) ? r.to(to) : r;
}

/// The dtype to cast to when autocast is on and one of the operands is f32.
inline std::optional<DType> autocast_for(std::initializer_list<const Tensor*> ts) {
  const std::optional<DType> ac = autocast_dtype();
  if (!ac) return std::nullopt;
  for (const Tensor* t : ts)
    if (t->defined() && t->dtype() == DType::f32) return ac;
  return std::nullopt;
}

/// t cast to `to` when it is f32 (autocast leaves f64 and integers alone).
inline Tensor autocast_operand(const Tensor& t, DType to) {
  return t.defined() && t.dtype() == DType::f32 ? t.to(to) : t;
}

/// The dtype a loss returns for operands of promoted dtype `rd`: f32 under autocast.
inline DType loss_dtype(DType rd) { return autocast_dtype() ? DType::f32 : rd; }

/// The 16-bit float path of an op on tensors `ts...`: when they share bf16 or
/// f16, op(ts in f32...) rounded back; else none, and the op runs as given.
template <class Op, class... T> std::optional<Tensor> reduced_entry(Op&& op, const T&... ts) {
  if (auto rd = shared_reduced({&ts...})) return in_f32(*rd, [&] { return op(widened(ts)...); });
  return std::nullopt;
}

/// The 16-bit float path of an op keyed on its input x alone (norms, pooling,
/// scans, interpolation): when x is bf16 or f16, the op runs on every operand
/// widened to f32 (16-bit parameters too; f32 ones as they are) and returns x's dtype.
template <class Op, class... T> std::optional<Tensor> input_entry(Op&& op, const Tensor& x, const T&... rest) {
  if (!is_reduced_float(x.dtype())) return std::nullopt;
  return in_f32(x.dtype(), [&] { return op(widened(x), widened(rest)...); });
}

/// reduced_entry for the ops autocast casts (matmul, linear, convolutions):
/// under autocast, f32 operands are first cast to its dtype.
template <class Op, class... T> std::optional<Tensor> autocast_entry(Op&& op, const T&... ts) {
  if (auto ac = autocast_for({&ts...})) return op(autocast_operand(ts, *ac)...);
  return reduced_entry(op, ts...);
}

/// autocast_entry for ops with their own bf16 kernel (matrix products and
/// convolutions on oneDNN where native_bf16()): operands that are all bf16 are
/// left as they are (none returned) for the op to run natively; otherwise as
/// autocast_entry.
template <class Op, class... T> std::optional<Tensor> autocast_entry_native(Op&& op, const T&... ts) {
  if (auto ac = autocast_for({&ts...})) return op(autocast_operand(ts, *ac)...);
  if (shared_reduced({&ts...}) == DType::bf16 && kernels::native_bf16()) return std::nullopt;
  return reduced_entry(op, ts...);
}

/// The entry of a loss on tensors `ts...`: when one is a 16-bit float, every
/// operand widens to f32 and the loss returns the operands' promoted dtype (f32
/// under autocast, as PyTorch's autocast runs losses in f32).
template <class Op, class... T> std::optional<Tensor> loss_entry(Op&& op, const T&... ts) {
  if (auto rd = any_reduced({&ts...})) return in_f32(loss_dtype(*rd), [&] { return op(widened(ts)...); });
  return std::nullopt;
}

}  // namespace nabla::detail
