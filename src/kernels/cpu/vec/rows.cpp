// Row-wise kernels over contiguous rows: normalization to zero mean and unit
// variance (layer and group norm) and softmax along a dim. Sums of a
// row accumulate in double, in vector lanes, so long rows of f32 stay exact to
// f32's precision whatever the ISA's width.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/reduce_rows.h"
#include "kernels/cpu/vec/kernels.h"

namespace nabla::kernels::NABLA_ISA {

template <class T>
void norm_rows(int64_t rows, int64_t R, const T* x, double eps, bool centered, T* y, T* mean, T* var, T* rstd) {
  for (int64_t m = 0; m < rows; ++m) {
    const T* __restrict row = x + m * R;
    T* __restrict out = y + m * R;
    const double mu = centered ? row_sum(row, R) / static_cast<double>(R) : 0.0;
    double ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int64_t r = 0; r < R; ++r) ss += (row[r] - mu) * (row[r] - mu);
    const double v = ss / static_cast<double>(R);
    const T inv = static_cast<T>(1.0 / std::sqrt(v + eps)), mt = static_cast<T>(mu);
#pragma omp simd
    for (int64_t r = 0; r < R; ++r) out[r] = (row[r] - mt) * inv;
    if (mean) mean[m] = mt;
    if (var) var[m] = static_cast<T>(v);
    rstd[m] = inv;
  }
}

template <class T>
void norm_rows_backward(int64_t rows, int64_t R, const T* g, const T* xhat, const T* rstd, bool centered, T* dx) {
  for (int64_t m = 0; m < rows; ++m) {
    const T *__restrict gp = g + m * R, *__restrict xh = xhat + m * R;
    T* __restrict out = dx + m * R;
    double sg = 0, sgx = 0;
#pragma omp simd reduction(+ : sg, sgx)
    for (int64_t r = 0; r < R; ++r) {
      sg += gp[r];
      sgx += gp[r] * xh[r];
    }
    const T mg = centered ? static_cast<T>(sg / R) : T(0), mgx = static_cast<T>(sgx / R), rs = rstd[m];
#pragma omp simd
    for (int64_t r = 0; r < R; ++r) out[r] = rs * (gp[r] - mg - xh[r] * mgx);
  }
}

template <class T> void softmax_lanes(int64_t n, int64_t inner, int64_t k0, int64_t k1, const T* x, T* y, bool log) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  if (inner == 1) {  // one contiguous row: vectorize along it
    const T* __restrict p = x;
    T* __restrict q = y;
    T mx = kNegInf;
#pragma omp simd reduction(max : mx)
    for (int64_t i = 0; i < n; ++i) mx = p[i] > mx ? p[i] : mx;
    if (mx == kNegInf) mx = 0;  // a row of -inf: avoid inf - inf
    double s = 0;
    if (log) {
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < n; ++i) s += exp_or_zero(p[i] - mx);
      const T shift = mx + static_cast<T>(std::log(s));
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) q[i] = p[i] - shift;
    } else {
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < n; ++i) {
        const T e = exp_or_zero(p[i] - mx);
        q[i] = e;
        s += e;
      }
      const T inv = static_cast<T>(1.0 / s);
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) q[i] *= inv;
    }
    return;
  }
  // Lanes k0..k1 of a block, element i of lane k at k + i * inner: vectorize
  // across the lanes, a chunk at a time so the running maxima and sums stay in registers.
  constexpr int64_t kChunk = 64;
  for (int64_t c0 = k0; c0 < k1; c0 += kChunk) {
    const int64_t w = std::min(kChunk, k1 - c0);
    T mx[kChunk];
    double s[kChunk];
    for (int64_t j = 0; j < w; ++j) mx[j] = kNegInf, s[j] = 0;
    for (int64_t i = 0; i < n; ++i) {
      const T* __restrict p = x + i * inner + c0;
#pragma omp simd
      for (int64_t j = 0; j < w; ++j) mx[j] = p[j] > mx[j] ? p[j] : mx[j];
    }
    for (int64_t j = 0; j < w; ++j)
      if (mx[j] == kNegInf) mx[j] = 0;
    for (int64_t i = 0; i < n; ++i) {
      const T* __restrict p = x + i * inner + c0;
      T* __restrict q = y + i * inner + c0;
#pragma omp simd
      for (int64_t j = 0; j < w; ++j) {
        const T e = exp_or_zero(p[j] - mx[j]);
        if (!log) q[j] = e;
        s[j] += e;
      }
    }
    T f[kChunk];
    for (int64_t j = 0; j < w; ++j) f[j] = static_cast<T>(log ? mx[j] + std::log(s[j]) : 1.0 / s[j]);
    for (int64_t i = 0; i < n; ++i) {
      const T* __restrict p = x + i * inner + c0;
      T* __restrict q = y + i * inner + c0;
      if (log) {
#pragma omp simd
        for (int64_t j = 0; j < w; ++j) q[j] = p[j] - f[j];
      } else {
#pragma omp simd
        for (int64_t j = 0; j < w; ++j) q[j] *= f[j];
      }
    }
  }
}

#define NABLA_ROWS(T)                                                                            \
  template void norm_rows<T>(int64_t, int64_t, const T*, double, bool, T*, T*, T*, T*);          \
  template void norm_rows_backward<T>(int64_t, int64_t, const T*, const T*, const T*, bool, T*); \
  template void softmax_lanes<T>(int64_t, int64_t, int64_t, int64_t, const T*, T*, bool);
NABLA_ROWS(float)
NABLA_ROWS(double)
#undef NABLA_ROWS

}  // namespace nabla::kernels::NABLA_ISA
