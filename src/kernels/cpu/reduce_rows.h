#pragma once
// Reductions of one contiguous row of R values. Included by the dispatched
// reduction kernel (vec/reduce.cpp, once per ISA: the floating dtypes) and by
// ops/reduce.cpp for the dtypes no table serves (integers; max/min with their
// index, whose NaN rule makes an early exit).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/cpu/isa_namespace.h"

namespace nabla::kernels {
inline namespace NABLA_ISA {

/// The sum, in double for floating T and in int64 for integers.
template <class T> auto row_sum(const T* __restrict row, int64_t R) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
  Acc s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t r = 0; r < R; ++r) s += row[r];
  return s;
}

/// The variance with `ddof` subtracted from the count (NaN when R <= ddof).
template <class T> double row_var(const T* __restrict row, int64_t R, double ddof) {
  const double mu = static_cast<double>(row_sum(row, R)) / static_cast<double>(R);
  double ss = 0;
#pragma omp simd reduction(+ : ss)
  for (int64_t r = 0; r < R; ++r) ss += (row[r] - mu) * (row[r] - mu);
  const double denom = static_cast<double>(R) - ddof;
  return denom > 0 ? ss / denom : NAN;
}

/// log sum exp, shifted by the row's max; a row whose max is infinite gives that max.
template <class T> double row_logsumexp(const T* __restrict row, int64_t R) {
  double mx = -INFINITY;
  for (int64_t r = 0; r < R; ++r) mx = std::max<double>(mx, row[r]);
  if (std::isinf(mx)) return mx;
  double s = 0;
  for (int64_t r = 0; r < R; ++r) s += std::exp(row[r] - mx);
  return mx + std::log(s);
}

/// The p-norm (p > 0; p = inf is the max of |x|).
template <class T> double row_norm(const T* __restrict row, int64_t R, double p) {
  double acc = 0;
  if (std::isinf(p)) {
    for (int64_t r = 0; r < R; ++r) acc = std::max(acc, std::abs(static_cast<double>(row[r])));
    return acc;
  }
  if (p == 1.0) {
#pragma omp simd reduction(+ : acc)
    for (int64_t r = 0; r < R; ++r) acc += std::abs(static_cast<double>(row[r]));
    return acc;
  }
  if (p == 2.0) {
#pragma omp simd reduction(+ : acc)
    for (int64_t r = 0; r < R; ++r) acc += static_cast<double>(row[r]) * row[r];
    return std::sqrt(acc);
  }
  for (int64_t r = 0; r < R; ++r) acc += std::pow(std::abs(static_cast<double>(row[r])), p);
  return std::pow(acc, 1.0 / p);
}

/// The index of the row's max (or min): the first one, and the first NaN wins, as in PyTorch. R > 0.
template <class T> int64_t row_extreme_index(const T* row, int64_t R, bool is_max) {
  int64_t best = 0;
  for (int64_t r = 1; r < R; ++r) {
    const T a = row[r], b = row[best];
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(b)) break;
      if (std::isnan(a)) return r;
    }
    if (is_max ? a > b : a < b) best = r;
  }
  return best;
}

/// acc[m] += row r's value m, over `rows` rows of M values (sums over leading dims).
template <class T, class Acc> void add_rows_into(const T* x, int64_t rows, int64_t M, Acc* __restrict acc) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict row = x + r * M;
#pragma omp simd
    for (int64_t m = 0; m < M; ++m) acc[m] += row[m];
  }
}

}  // namespace NABLA_ISA
}  // namespace nabla::kernels
