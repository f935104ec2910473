// The inner loops of ROCKET and MiniRocket (kernels/cpu/rocket.h drives them).
// A dilated convolution of one series is computed tap by tap: for tap j every
// output position t reads x[t + j d - padding], a contiguous run, so each tap is
// one vectorizable multiply-add over the whole output row instead of the
// reference's per-output loop over taps. The additions happen in the reference's
// order (bias, then tap 0, 1, ..., each over the kernel's channels in turn), so the
// sums equal it but for FMA contraction.
#include "kernels/cpu/vec/kernels.h"

namespace nabla::kernels::NABLA_ISA {

void rocket_kernel(const float* const* rows, int64_t nchan, const float* weights, int64_t length, int64_t dilation,
                   int64_t padding, int64_t n, float bias, float* scratch, float* ppv, float* max) {
  const int64_t out_len = n + 2 * padding - (length - 1) * dilation;
  float* __restrict s = scratch;
  for (int64_t i = 0; i < out_len; ++i) s[i] = bias;
  for (int64_t j = 0; j < length; ++j) {
    const int64_t off = j * dilation - padding;  // output i reads x[i + off]
    const int64_t lo = off < 0 ? -off : 0, hi = n - off < out_len ? n - off : out_len;
    for (int64_t c = 0; c < nchan; ++c) {
      const float w = weights[c * length + j];
      const float* __restrict x = rows[c];
#pragma omp simd
      for (int64_t i = lo; i < hi; ++i) s[i] += w * x[i + off];
    }
  }
  int64_t positive = 0;
  float m = s[0];
#pragma omp simd reduction(+ : positive) reduction(max : m)
  for (int64_t i = 0; i < out_len; ++i) {
    positive += s[i] > 0.0f ? 1 : 0;
    m = s[i] > m ? s[i] : m;
  }
  *ppv = static_cast<float>(static_cast<double>(positive) / static_cast<double>(out_len));
  *max = m;
}

void minirocket_planes(const float* x, int64_t n, int64_t dilation, float* alpha, float* gamma) {
  // alpha[t] = -sum_j x[t + (j - 4) d], gamma_j[t] = 3 x[t + (j - 4) d], zero outside the series; alpha
  // adds its taps in the reference's order: the centre, then 0..3, then 5..8.
  float* __restrict a = alpha;
  for (int64_t t = 0; t < n; ++t) a[t] = -x[t];
  static constexpr int kOrder[8] = {0, 1, 2, 3, 5, 6, 7, 8};
  for (int j : kOrder) {
    const int64_t off = (j - 4) * dilation;
    const int64_t lo = off < 0 ? -off : 0, hi = n - off < n ? n - off : n;
    for (int64_t t = lo; t < hi; ++t) a[t] = a[t] + -x[t + off];
  }
  for (int j = 0; j < 9; ++j) {
    const int64_t off = (j - 4) * dilation;
    const int64_t lo = off < 0 ? -off : 0, hi = n - off < n ? n - off : n;
    float* __restrict g = gamma + j * n;
    for (int64_t t = 0; t < (lo < n ? lo : n); ++t) g[t] = 0.0f;
#pragma omp simd
    for (int64_t t = lo; t < hi; ++t) g[t] = x[t + off] + x[t + off] + x[t + off];
    for (int64_t t = hi > lo ? hi : lo; t < n; ++t) g[t] = 0.0f;
  }
}

void minirocket_response(int64_t n, int64_t nchan, const float* const* alpha, const float* const* g0,
                         const float* const* g1, const float* const* g2, float* out) {
  float* __restrict r = out;
  for (int64_t c = 0; c < nchan; ++c) {
    const float* __restrict a = alpha[c];
    const float* __restrict p = g0[c];
    const float* __restrict q = g1[c];
    const float* __restrict u = g2[c];
    if (c == 0) {
#pragma omp simd
      for (int64_t t = 0; t < n; ++t) r[t] = a[t] + p[t] + q[t] + u[t];
    } else {
#pragma omp simd
      for (int64_t t = 0; t < n; ++t) r[t] += a[t] + p[t] + q[t] + u[t];
    }
  }
}

void minirocket_ppv(const float* r, int64_t n, int64_t trim, const float* biases, int64_t nb, int64_t parity,
                    float* out) {
  // Feature f counts over the whole response when (parity + f) is even, else over r[trim, n - trim)
  // (the whole of it when that is empty: a series shorter than the kernel's span).
  const int64_t inner = n - 2 * trim > 0 ? n - 2 * trim : n;
  const float* inner_r = n - 2 * trim > 0 ? r + trim : r;
  for (int64_t f = 0; f < nb; ++f) {
    const bool full = (parity + f) % 2 == 0;
    const float* __restrict p = full ? r : inner_r;
    const int64_t m = full ? n : inner;
    const float b = biases[f];
    int64_t positive = 0;
#pragma omp simd reduction(+ : positive)
    for (int64_t t = 0; t < m; ++t) positive += p[t] > b ? 1 : 0;
    out[f] = static_cast<float>(static_cast<double>(positive) / static_cast<double>(m));
  }
}

}  // namespace nabla::kernels::NABLA_ISA
