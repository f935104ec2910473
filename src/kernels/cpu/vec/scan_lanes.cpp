// Running sums along a dim of a contiguous block [steps, inner]: each of the
// inner lanes is a sequential scan, so the vector runs across the lanes
// (inner == 1 is one lane, scalar). Each lane adds in the order of the generic
// scan, so every ISA gives the same bits.
#include "kernels/cpu/vec/kernels.h"

namespace nabla::kernels::NABLA_ISA {

template <class T>
void cumsum_lanes(int64_t steps, int64_t inner, int64_t k0, int64_t k1, const T* x, T* y, bool reverse) {
  constexpr int64_t kChunk = 64;
  for (int64_t c0 = k0; c0 < k1; c0 += kChunk) {
    const int64_t w = k1 - c0 < kChunk ? k1 - c0 : kChunk;
    T acc[kChunk] = {};
    for (int64_t s = 0; s < steps; ++s) {
      const int64_t t = reverse ? steps - 1 - s : s;
      const T* __restrict p = x + t * inner + c0;
      T* __restrict q = y + t * inner + c0;
#pragma omp simd
      for (int64_t j = 0; j < w; ++j) q[j] = acc[j] = acc[j] + p[j];
    }
  }
}

template void cumsum_lanes<float>(int64_t, int64_t, int64_t, int64_t, const float*, float*, bool);
template void cumsum_lanes<double>(int64_t, int64_t, int64_t, int64_t, const double*, double*, bool);

}  // namespace nabla::kernels::NABLA_ISA
