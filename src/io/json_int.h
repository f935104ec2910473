#pragma once
// Integers read from JSON files (configs, checkpoint metadata, vocabularies).
// nlohmann's get<int64_t>() on a float such as 1e45 is a C++ conversion out of
// range (undefined behaviour, found by fuzz/config.cpp); these refuse floats
// and values outside the target type instead.
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "nabla/tensor/error.h"

namespace nabla::io {

/// v as a T, or an Error naming `what` when v is not an integer or does not fit.
template <class T> T json_int(const nlohmann::json& v, const std::string& what) {
  const std::string shown = v.dump().substr(0, 40);
  NABLA_CHECK(v.is_number_integer(), "{}: expected an integer, got {}", what, shown);
  const bool fits = v.is_number_unsigned() ? std::in_range<T>(v.get<uint64_t>()) : std::in_range<T>(v.get<int64_t>());
  NABLA_CHECK(fits, "{}: {} is out of range", what, shown);
  return v.is_number_unsigned() ? static_cast<T>(v.get<uint64_t>()) : static_cast<T>(v.get<int64_t>());
}

/// A JSON array of integers.
template <class T> std::vector<T> json_ints(const nlohmann::json& v, const std::string& what) {
  NABLA_CHECK(v.is_array(), "{}: expected an array of integers, got {}", what, v.dump().substr(0, 40));
  std::vector<T> out;
  for (const nlohmann::json& e : v) out.push_back(json_int<T>(e, what));
  return out;
}

/// j[key] as a T when present, else `fallback`.
template <class T> T json_int_or(const nlohmann::json& j, const char* key, T fallback, const std::string& what) {
  return j.contains(key) ? json_int<T>(j.at(key), what + "." + key) : fallback;
}

}  // namespace nabla::io
