#pragma once
// The two 16-bit floating types, as storage: bfloat16 (f32's exponent, 7
// mantissa bits) and IEEE binary16 (5 exponent bits, 10 mantissa bits). Both
// convert to float implicitly, so arithmetic on them happens in f32 and a
// result rounds once, on the way back (round to nearest, ties to even, as
// PyTorch's conversions). Plain C++ that needs no F16C or AVX512_BF16.
#include <bit>
#include <cstdint>
#include <type_traits>

namespace nabla {

namespace half_bits {

/// f32 -> bf16, round to nearest even; every NaN becomes the quiet NaN 0x7fc0, as in PyTorch.
constexpr uint16_t bf16_from_float(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0u;
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

constexpr float bf16_to_float(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

/// f32 -> binary16, round to nearest even, with subnormals and overflow to inf; a NaN
/// becomes the quiet NaN 0x7e00 with its sign, as in PyTorch.
constexpr uint16_t f16_from_float(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // |f| >= 65520 rounds past the largest half
  if (a < 0x38800000u) {
    // Below 2^-14 the half is subnormal, with a step of 2^-24: adding 0.5 puts
    // |f| in the binade whose f32 step is 2^-24, so the hardware add rounds it
    // to the half's grid (ties to even) and the low bits are the half's mantissa.
    const float r = std::bit_cast<float>(a) + 0.5f;
    return static_cast<uint16_t>(sign | (std::bit_cast<uint32_t>(r) - 0x3f000000u));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped bits; a
  // carry out of the mantissa correctly bumps the exponent.
  a += 0xc8000fffu + ((a >> 13) & 1u);
  return static_cast<uint16_t>(sign | (a >> 13));
}

constexpr float f16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (m << 13));
  if (e == 0) {
    const float v = static_cast<float>(m) * 5.9604644775390625e-8f;  // m * 2^-24, exact
    return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(v));
  }
  return std::bit_cast<float>(sign | ((e + 112u) << 23) | (m << 13));
}

}  // namespace half_bits

/// Shared shape of the two types: 16 bits, implicit conversion to float,
/// construction from any arithmetic value through float (as PyTorch converts
/// f64 -> bf16: via f32), compound assignment in f32.
template <uint16_t (*From)(float), float (*To)(uint16_t)> struct Float16Storage {
  uint16_t bits = 0;
  constexpr Float16Storage() = default;
  template <class U>
    requires std::is_arithmetic_v<U>
  constexpr Float16Storage(U v) : bits(From(static_cast<float>(v))) {}  // NOLINT: implicit, as float would be
  static constexpr Float16Storage from_bits(uint16_t b) {
    Float16Storage h;
    h.bits = b;
    return h;
  }
  constexpr operator float() const { return To(bits); }  // NOLINT: arithmetic runs in f32
  constexpr Float16Storage& operator+=(float v) { return *this = float(*this) + v; }
  constexpr Float16Storage& operator-=(float v) { return *this = float(*this) - v; }
  constexpr Float16Storage& operator*=(float v) { return *this = float(*this) * v; }
  constexpr Float16Storage& operator/=(float v) { return *this = float(*this) / v; }
};

/// bfloat16: 1 sign, 8 exponent, 7 mantissa bits (f32's range, ~3 significant digits).
using BFloat16 = Float16Storage<half_bits::bf16_from_float, half_bits::bf16_to_float>;
/// IEEE 754 binary16: 1 sign, 5 exponent, 10 mantissa bits (largest finite 65504).
using Half = Float16Storage<half_bits::f16_from_float, half_bits::f16_to_float>;

static_assert(sizeof(BFloat16) == 2 && sizeof(Half) == 2);

}  // namespace nabla
