#pragma once
// Whether a run of values holds a NaN or an infinity (anomaly mode's check).
#include <cmath>
#include <cstdint>

#include "kernels/cpu/isa_namespace.h"

namespace nabla::kernels {
inline namespace NABLA_ISA {

/// True when any of x[0..n) is NaN or infinite. x - x is 0 for finite values
/// and NaN otherwise, so the test is a branch-free sum that vectorizes.
template <class T> bool any_nonfinite(const T* __restrict x, int64_t n) {
  T acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += x[i] - x[i];
  return acc != acc;
}

}  // namespace NABLA_ISA
}  // namespace nabla::kernels
