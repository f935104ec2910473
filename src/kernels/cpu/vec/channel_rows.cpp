// Per-channel loops over rows of C values: a channels-last batch seen as
// M = N*H*W rows. Each row is one vector loop over the channels; the sums go
// into the caller's accumulators (kernels/cpu/row_loops.h adds them up).
#include "kernels/cpu/vec/kernels.h"

namespace nabla::kernels::NABLA_ISA {

template <class T> void col_sum(int64_t rows, int64_t C, const T* x, T* __restrict acc) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict row = x + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) acc[c] += row[c];
  }
}

template <class T> void col_sum_sqdev(int64_t rows, int64_t C, const T* x, const T* __restrict mean, T* __restrict acc) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict row = x + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) acc[c] += (row[c] - mean[c]) * (row[c] - mean[c]);
  }
}

template <class T>
void col_sum_bn_grad(int64_t rows, int64_t C, const T* g, const T* x, const T* __restrict mean,
                     const T* __restrict rstd, T* __restrict acc) {
  for (int64_t r = 0; r < rows; ++r) {
    const T *__restrict grow = g + r * C, *__restrict row = x + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      acc[c] += grow[c];
      acc[C + c] += grow[c] * (row[c] - mean[c]) * rstd[c];
    }
  }
}

template <class T>
void rows_affine(int64_t rows, int64_t C, const T* x, const T* __restrict scale, const T* __restrict shift, T* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict row = x + r * C;
    T* __restrict out = y + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) out[c] = row[c] * scale[c] + shift[c];
  }
}

template <class T>
void rows_bn_dx(int64_t rows, int64_t C, const T* g, const T* x, const T* __restrict mean, const T* __restrict k,
                const T* __restrict mg, const T* __restrict mgx, T* dx) {
  for (int64_t r = 0; r < rows; ++r) {
    const T *__restrict grow = g + r * C, *__restrict row = x + r * C;
    T* __restrict d = dx + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) d[c] = k[c] * (grow[c] - mg[c] - (row[c] - mean[c]) * mgx[c]);
  }
}

#define NABLA_CHANNEL_ROWS(T)                                                                                \
  template void col_sum<T>(int64_t, int64_t, const T*, T*);                                                  \
  template void col_sum_sqdev<T>(int64_t, int64_t, const T*, const T*, T*);                                  \
  template void col_sum_bn_grad<T>(int64_t, int64_t, const T*, const T*, const T*, const T*, T*);            \
  template void rows_affine<T>(int64_t, int64_t, const T*, const T*, const T*, T*);                          \
  template void rows_bn_dx<T>(int64_t, int64_t, const T*, const T*, const T*, const T*, const T*, const T*, T*);
NABLA_CHANNEL_ROWS(float)
NABLA_CHANNEL_ROWS(double)

}  // namespace nabla::kernels::NABLA_ISA
