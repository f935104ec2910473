// Channels-last max pooling: a window is a few pixels of C channels, compared a
// channel vector at a time. Ties keep the first element, the first NaN of a
// window wins (PyTorch's rules); the selects carry no branch, so they vectorize.
#include "kernels/cpu/vec/kernels.h"

namespace nabla::kernels::NABLA_ISA {

template <class T>
void max_pool_2x2_row(int64_t Wo, int64_t C, int64_t row, const T* in, T* out, uint8_t* at) {
  for (int64_t xo = 0; xo < Wo; ++xo) {
    const T* __restrict a = in + 2 * xo * C;
    const T *__restrict b = a + C, *__restrict c2 = a + row, *__restrict d = c2 + C;
    T* __restrict o = out + xo * C;
    uint8_t* __restrict p = at + xo * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      T best = a[c];
      uint8_t k = 0;
      const T vs[3] = {b[c], c2[c], d[c]};
      for (uint8_t e = 0; e < 3; ++e) {
        const bool take = (vs[e] > best || vs[e] != vs[e]) && best == best;
        best = take ? vs[e] : best;
        k = take ? static_cast<uint8_t>(e + 1) : k;
      }
      o[c] = best;
      p[c] = k;
    }
  }
}

template <class T> void max_pool_merge(int64_t C, const T* __restrict v, uint8_t k, T* __restrict o, uint8_t* __restrict at) {
#pragma omp simd
  for (int64_t c = 0; c < C; ++c) {
    const bool take = (v[c] > o[c] || v[c] != v[c]) && o[c] == o[c];
    o[c] = take ? v[c] : o[c];
    at[c] = take ? k : at[c];
  }
}

template <class T>
void max_pool_select(int64_t C, const T* __restrict g, const uint8_t* __restrict at, uint8_t k, T* __restrict d,
                     bool accumulate) {
  if (accumulate) {
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) d[c] += at[c] == k ? g[c] : T(0);
  } else {
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) d[c] = at[c] == k ? g[c] : T(0);
  }
}

#define NABLA_MAX_POOL(T)                                                                   \
  template void max_pool_2x2_row<T>(int64_t, int64_t, int64_t, const T*, T*, uint8_t*);     \
  template void max_pool_merge<T>(int64_t, const T*, uint8_t, T*, uint8_t*);                \
  template void max_pool_select<T>(int64_t, const T*, const uint8_t*, uint8_t, T*, bool);
NABLA_MAX_POOL(float)
NABLA_MAX_POOL(double)

}  // namespace nabla::kernels::NABLA_ISA
