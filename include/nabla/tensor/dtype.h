#pragma once
// Element types a tensor can hold, and compile-time dispatch over them.
#include <cstdint>
#include <string>
#include <type_traits>

#include "nabla/tensor/error.h"
#include "nabla/tensor/half.h"

namespace nabla {

/// Element type. f32 for compute, f64 for gradient checks, bf16/f16 for
/// reduced-precision storage (computing in f32), i64 for indices and labels,
/// i32/i8 for quantized values, u8 for raw images, boolean for comparisons
/// and masks. (`boolean` because `bool` is a keyword; its name prints "bool".)
enum class DType : uint8_t { f32, f64, i64, u8, boolean, bf16, f16, i32, i8 };

/// Every dtype, in enum order (for tests and tables).
inline constexpr DType kAllDTypes[] = {DType::f32,  DType::f64, DType::i64, DType::u8, DType::boolean,
                                       DType::bf16, DType::f16, DType::i32, DType::i8};

/// Bytes per element.
constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f64:
    case DType::i64: return 8;
    case DType::f32:
    case DType::i32: return 4;
    case DType::bf16:
    case DType::f16: return 2;
    case DType::u8:
    case DType::i8:
    case DType::boolean: return 1;
  }
  return 0;
}

/// Short name used in messages and printing ("f32", "i64", "bool", "bf16", ...).
const char* dtype_name(DType t);

/// The dtype a name denotes: our short names and PyTorch's ("float32",
/// "bfloat16", "half", "int8", "bool", ...). Throws on an unknown name.
DType dtype_from_name(const std::string& name);

/// True for the 16-bit floats, which are stored reduced and computed in f32.
constexpr bool is_reduced_float(DType t) { return t == DType::bf16 || t == DType::f16; }

/// True for every floating dtype: f32, f64, bf16, f16.
constexpr bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64 || is_reduced_float(t);
}

/// True for the integer dtypes (not bool).
constexpr bool is_integral(DType t) {
  return t == DType::i64 || t == DType::i32 || t == DType::i8 || t == DType::u8;
}

namespace detail {
// PyTorch's promotion lattice, by category (bool < integer < floating) and,
// within one, by width. u8 with i8 would be PyTorch's int16, which nabla lacks:
// it is i32 here, the next signed type that holds both ranges.
constexpr int integer_rank(DType t) {
  switch (t) {
    case DType::u8:
    case DType::i8: return 1;
    case DType::i32: return 2;
    case DType::i64: return 3;
    default: return 0;
  }
}
constexpr int float_rank(DType t) {
  switch (t) {
    case DType::bf16:
    case DType::f16: return 1;
    case DType::f32: return 2;
    case DType::f64: return 3;
    default: return 0;
  }
}
}  // namespace detail

/// PyTorch's promotion of two dtypes: bool < integers < floats; within a
/// category the wider wins; bf16 with f16 is f32, u8 with i8 is i32 (PyTorch:
/// int16, which nabla does not have).
constexpr DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::boolean) return b;
  if (b == DType::boolean) return a;
  if (is_floating(a) != is_floating(b)) return is_floating(a) ? a : b;
  if (is_floating(a)) {
    if (detail::float_rank(a) == detail::float_rank(b)) return DType::f32;  // bf16 with f16
    return detail::float_rank(a) > detail::float_rank(b) ? a : b;
  }
  if (detail::integer_rank(a) == detail::integer_rank(b)) return DType::i32;  // u8 with i8
  return detail::integer_rank(a) > detail::integer_rank(b) ? a : b;
}

/// The dtype an arithmetic kernel runs in for values of dtype t: the 16-bit
/// floats compute in f32, bool and the narrow integers in i64 (results are
/// converted back, which wraps integers as PyTorch's do); the others in themselves.
constexpr DType compute_dtype(DType t) {
  if (is_reduced_float(t)) return DType::f32;
  if (t == DType::boolean || t == DType::i32 || t == DType::i8) return DType::i64;
  return t;
}

template <class T> struct TypeTag { using type = T; };

/// The dtype of a C++ element type, as a compile-time mapping.
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<bool>() { return DType::boolean; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::bf16; }
template <> constexpr DType dtype_of<Half>() { return DType::f16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int8_t>() { return DType::i8; }

/// v converted to TO as PyTorch converts elements: through f32 between the two
/// 16-bit floats, nonzero -> true for bool, C++'s conversion otherwise.
template <class TO, class TI> constexpr TO convert(TI v) {
  if constexpr (std::is_same_v<TO, TI>)
    return v;
  else if constexpr (std::is_arithmetic_v<TO> || std::is_arithmetic_v<TI>)
    return static_cast<TO>(v);
  else
    return TO(static_cast<float>(v));
}

/// Calls f(TypeTag<T>{}) with T the C++ type of `t`, for every dtype: for code
/// that moves, compares or converts elements (copies, gathers, printing).
template <class F> decltype(auto) dispatch_all(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::i64: return f(TypeTag<int64_t>{});
    case DType::u8: return f(TypeTag<uint8_t>{});
    case DType::boolean: return f(TypeTag<bool>{});
    case DType::bf16: return f(TypeTag<BFloat16>{});
    case DType::f16: return f(TypeTag<Half>{});
    case DType::i32: return f(TypeTag<int32_t>{});
    case DType::i8: return f(TypeTag<int8_t>{});
  }
  throw Error("unknown dtype");
}

/// Like dispatch_all, over the dtypes arithmetic kernels are compiled for (f32,
/// f64, i64, u8); an op converts other dtypes to compute_dtype() first.
template <class F> decltype(auto) dispatch_native(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::i64: return f(TypeTag<int64_t>{});
    case DType::u8: return f(TypeTag<uint8_t>{});
    default: break;
  }
  throw Error(fmt::format("{}: no kernel for dtype {}", op, dtype_name(t)));
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

/// Like dispatch_all, for arithmetic that u8 (a pixel type) does not get.
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
