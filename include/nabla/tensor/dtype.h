#pragma once
// Element types a tensor can hold, and compile-time dispatch over them.
#include <cstdint>
#include <string>

#include "nabla/tensor/error.h"

namespace nabla {

/// Element type. f32 for compute, f64 for gradient checks, i64 for indices
/// and labels, u8 for raw images and boolean results.
enum class DType : uint8_t { f32, f64, i64, u8 };

/// Bytes per element.
constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::u8: return 1;
  }
  return 0;
}

/// Short name used in messages and printing ("f32", "i64", ...).
const char* dtype_name(DType t);

/// True for f32 and f64.
constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }

/// PyTorch's promotion of two dtypes: integers (u8, i64) promote to i64, an
/// integer with a float to the float, f32 with f64 to f64.
constexpr DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (is_floating(a) && is_floating(b)) return DType::f64;
  if (is_floating(a)) return a;
  if (is_floating(b)) return b;
  return DType::i64;
}

template <class T> struct TypeTag { using type = T; };

/// The C++ type of a dtype, as a compile-time mapping.
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }

/// Calls f(TypeTag<T>{}) with T the C++ type of `t`.
template <class F> decltype(auto) dispatch_all(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::i64: return f(TypeTag<int64_t>{});
    case DType::u8: return f(TypeTag<uint8_t>{});
  }
  throw Error("unknown dtype");
}

/// Like dispatch_all, for ops defined only on floating types; `op` names the op in the error.
template <class F> decltype(auto) dispatch_floating(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    default: break;
  }
  throw Error(fmt::format("{}: expected a floating tensor (f32 or f64), got {}", op, dtype_name(t)));
}

/// Like dispatch_all, for arithmetic that u8 (a boolean or pixel type) does not get.
template <class F> decltype(auto) dispatch_numeric(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::i64: return f(TypeTag<int64_t>{});
    default: break;
  }
  throw Error(fmt::format("{}: not defined for dtype {}", op, dtype_name(t)));
}

}  // namespace nabla
