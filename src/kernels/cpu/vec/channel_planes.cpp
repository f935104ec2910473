// Per-channel loops over a planar batch [N, C, L]: channel c is N runs of L
// contiguous values, `stride` (= C L) apart. The planar twin of channel_rows.cpp:
// the same terms, vectorized along a run instead of across the channels; sums
// accumulate in double.
#include "kernels/cpu/vec/kernels.h"

namespace nabla::kernels::NABLA_ISA {

template <class T> double plane_sum(int64_t N, int64_t L, int64_t stride, const T* x) {
  double s = 0;
  for (int64_t n = 0; n < N; ++n) {
    const T* __restrict row = x + n * stride;
#pragma omp simd reduction(+ : s)
    for (int64_t l = 0; l < L; ++l) s += row[l];
  }
  return s;
}

template <class T> double plane_sum_sqdev(int64_t N, int64_t L, int64_t stride, const T* x, double mean) {
  double s = 0;
  for (int64_t n = 0; n < N; ++n) {
    const T* __restrict row = x + n * stride;
#pragma omp simd reduction(+ : s)
    for (int64_t l = 0; l < L; ++l) s += (row[l] - mean) * (row[l] - mean);
  }
  return s;
}

template <class T>
void plane_bn_grad(int64_t N, int64_t L, int64_t stride, const T* g, const T* x, double mean, double rstd,
                   double* sums) {
  double sg = 0, sgx = 0;
  for (int64_t n = 0; n < N; ++n) {
    const T *__restrict grow = g + n * stride, *__restrict row = x + n * stride;
#pragma omp simd reduction(+ : sg, sgx)
    for (int64_t l = 0; l < L; ++l) {
      sg += grow[l];
      sgx += grow[l] * (row[l] - mean) * rstd;
    }
  }
  sums[0] = sg;
  sums[1] = sgx;
}

template <class T> void plane_affine(int64_t N, int64_t L, int64_t stride, const T* x, T scale, T shift, T* y) {
  for (int64_t n = 0; n < N; ++n) {
    const T* __restrict row = x + n * stride;
    T* __restrict out = y + n * stride;
#pragma omp simd
    for (int64_t l = 0; l < L; ++l) out[l] = row[l] * scale + shift;
  }
}

template <class T>
void plane_bn_dx(int64_t N, int64_t L, int64_t stride, const T* g, const T* x, T mean, T k, T mg, T mgx, T* dx) {
  for (int64_t n = 0; n < N; ++n) {
    const T *__restrict grow = g + n * stride, *__restrict row = x + n * stride;
    T* __restrict d = dx + n * stride;
#pragma omp simd
    for (int64_t l = 0; l < L; ++l) d[l] = k * (grow[l] - mg - (row[l] - mean) * mgx);
  }
}

#define NABLA_CHANNEL_PLANES(T)                                                                          \
  template double plane_sum<T>(int64_t, int64_t, int64_t, const T*);                                     \
  template double plane_sum_sqdev<T>(int64_t, int64_t, int64_t, const T*, double);                       \
  template void plane_bn_grad<T>(int64_t, int64_t, int64_t, const T*, const T*, double, double, double*); \
  template void plane_affine<T>(int64_t, int64_t, int64_t, const T*, T, T, T*);                          \
  template void plane_bn_dx<T>(int64_t, int64_t, int64_t, const T*, const T*, T, T, T, T, T*);
NABLA_CHANNEL_PLANES(float)
NABLA_CHANNEL_PLANES(double)
#undef NABLA_CHANNEL_PLANES

}  // namespace nabla::kernels::NABLA_ISA
