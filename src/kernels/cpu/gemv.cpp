#include "kernels/cpu/gemv.h"

#include <omp.h>

namespace nabla::kernels {

namespace {

// Eight outputs at once: eight independent accumulation chains keep both FMA
// units busy, where one dot product at a time waits on its own latency.
void rows8(const float* xr, const float* w, int64_t K, float* out) {
  const float *w0 = w, *w1 = w + K, *w2 = w + 2 * K, *w3 = w + 3 * K, *w4 = w + 4 * K, *w5 = w + 5 * K,
              *w6 = w + 6 * K, *w7 = w + 7 * K;
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3, s4, s5, s6, s7)
  for (int64_t k = 0; k < K; ++k) {
    float v = xr[k];
    s0 += v * w0[k];
    s1 += v * w1[k];
    s2 += v * w2[k];
    s3 += v * w3[k];
    s4 += v * w4[k];
    s5 += v * w5[k];
    s6 += v * w6[k];
    s7 += v * w7[k];
  }
  out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3, out[4] = s4, out[5] = s5, out[6] = s6, out[7] = s7;
}

}  // namespace

void linear_small_batch(const float* x, const float* w, const float* b, float* y, int64_t M, int64_t N, int64_t K) {
  const int64_t blocks = N / 8;
  const bool parallel = N * K >= 65536 && omp_get_max_threads() > 1;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    for (int64_t m = 0; m < M; ++m) {
      float out[8];
      rows8(x + m * K, w + blk * 8 * K, K, out);
      for (int j = 0; j < 8; ++j) {
        int64_t n = blk * 8 + j;
        y[m * N + n] = b ? out[j] + b[n] : out[j];
      }
    }
  }
  for (int64_t n = blocks * 8; n < N; ++n)  // the remainder, at most 7 rows
    for (int64_t m = 0; m < M; ++m) {
      const float *xr = x + m * K, *wr = w + n * K;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (int64_t k = 0; k < K; ++k) s += xr[k] * wr[k];
      y[m * N + n] = b ? s + b[n] : s;
    }
}

}  // namespace nabla::kernels
