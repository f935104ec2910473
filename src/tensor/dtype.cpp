#include "nabla/tensor/dtype.h"

#include <utility>

namespace nabla {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
    case DType::boolean: return "bool";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
    case DType::i32: return "i32";
    case DType::i8: return "i8";
  }
  return "?";
}

DType dtype_from_name(const std::string& name) {
  static const std::pair<const char*, DType> kNames[] = {
      {"f32", DType::f32},     {"float32", DType::f32},  {"float", DType::f32},   {"f64", DType::f64},
      {"float64", DType::f64}, {"double", DType::f64},   {"bf16", DType::bf16},   {"bfloat16", DType::bf16},
      {"f16", DType::f16},     {"float16", DType::f16},  {"half", DType::f16},    {"i64", DType::i64},
      {"int64", DType::i64},   {"long", DType::i64},     {"i32", DType::i32},     {"int32", DType::i32},
      {"int", DType::i32},     {"i8", DType::i8},        {"int8", DType::i8},     {"u8", DType::u8},
      {"uint8", DType::u8},    {"bool", DType::boolean}, {"boolean", DType::boolean}};
  for (const auto& [n, t] : kNames)
    if (name == n) return t;
  throw Error(fmt::format("unknown dtype '{}' (expected one of f32, f64, bf16, f16, i64, i32, i8, u8, bool, or "
                          "PyTorch's names: float32, bfloat16, half, int8, ...)",
                          name));
}

}  // namespace nabla
