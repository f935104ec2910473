// The per-block row work of fused attention (kernels/cpu/attention.cpp runs
// the blocks and their GEMMs): the online softmax update of a block of scores
// in the forward, and the probabilities and score gradients in the backward.
#include <cmath>
#include <limits>

#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/vec/kernels.h"

namespace nabla::kernels::NABLA_ISA {

template <class T> void attn_online_softmax(int64_t n, int64_t m, T* s, int64_t ld, T* mx, T* l, T* alpha) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  for (int64_t r = 0; r < n; ++r) {
    T* __restrict row = s + r * ld;
    T bm = kNegInf;
#pragma omp simd reduction(max : bm)
    for (int64_t c = 0; c < m; ++c) bm = row[c] > bm ? row[c] : bm;
    const T old = mx[r], now = bm > old ? bm : old;
    if (now == kNegInf) {  // every key so far masked: nothing to add
#pragma omp simd
      for (int64_t c = 0; c < m; ++c) row[c] = 0;
      alpha[r] = 1;
      continue;
    }
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < m; ++c) {
      const T p = exp_or_zero(row[c] - now);
      row[c] = p;
      sum += p;
    }
    const T a = old == kNegInf ? T(0) : exp_or_zero(old - now);
    alpha[r] = a;
    l[r] = l[r] * a + static_cast<T>(sum);
    mx[r] = now;
  }
}

template <class T> void attn_probs_grad(int64_t n, int64_t m, T* s, T* dp, int64_t ld, const T* lse, const T* D) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  for (int64_t r = 0; r < n; ++r) {
    T* __restrict p = s + r * ld;
    T* __restrict g = dp + r * ld;
    const T z = lse[r], d = D[r];
    if (z == kNegInf) {  // a fully masked row: no probabilities, no gradient
#pragma omp simd
      for (int64_t c = 0; c < m; ++c) p[c] = g[c] = 0;
      continue;
    }
#pragma omp simd
    for (int64_t c = 0; c < m; ++c) {
      const T pc = exp_or_zero(p[c] - z);
      p[c] = pc;
      g[c] = pc * (g[c] - d);
    }
  }
}

#define NABLA_ATTN(T)                                                                            \
  template void attn_online_softmax<T>(int64_t, int64_t, T*, int64_t, T*, T*, T*);               \
  template void attn_probs_grad<T>(int64_t, int64_t, T*, T*, int64_t, const T*, const T*);
NABLA_ATTN(float)
NABLA_ATTN(double)
#undef NABLA_ATTN

}  // namespace nabla::kernels::NABLA_ISA
