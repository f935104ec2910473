#pragma once
// Option sets as enums that also read PyTorch's strings: gelu(x,
// GeluApproximation::tanh) and gelu(x, "tanh") are the same call, and an
// unknown string is an Error listing the known ones.
#include <string>

#include "nabla/tensor/error.h"

namespace nabla {

/// An enum `Traits::Value` with the names `Traits::kNames` ({name, value}
/// pairs) and `Traits::kWhat` (the option, for messages). Its enumerators are
/// reachable through it (GeluApproximation::tanh).
template <class Traits> struct NamedEnum : Traits {
  using Value = typename Traits::Value;
  Value value{};
  constexpr NamedEnum() = default;
  constexpr NamedEnum(Value v) : value(v) {}                // NOLINT: implicit, as an enum
  NamedEnum(const std::string& s) : value(parse(s)) {}      // NOLINT: PyTorch's strings
  NamedEnum(const char* s) : NamedEnum(std::string(s)) {}   // NOLINT
  /// PyTorch's string for the value.
  const char* name() const {
    for (const auto& [n, v] : Traits::kNames)
      if (v == value) return n;
    return "?";
  }
  friend bool operator==(const NamedEnum& a, const NamedEnum& b) { return a.value == b.value; }

 private:
  static Value parse(const std::string& s) {
    std::string known;
    for (const auto& [n, v] : Traits::kNames) {
      if (s == n) return v;
      known += known.empty() ? n : std::string(", ") + n;
    }
    throw Error(fmt::format("{}: unknown value '{}' (known: {})", Traits::kWhat, s, known));
  }
};

}  // namespace nabla
