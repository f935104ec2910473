// Fused attention: the blocking, the GEMMs and the merging of split keys; the
// per-row softmax work is the dispatched vec kernels' (attn_online_softmax,
// attn_probs_grad).
#include "kernels/cpu/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/vec/table.h"

namespace nabla::kernels {

namespace {

// 64 queries x 128 keys: the scores block (32 KiB in f32) and a row block of
// q and the output stay in L2 while the keys stream past.
constexpr int64_t kBlockQ = 64, kBlockK = 128;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The keys query rows [i0, i1) can see: all, or (causal) those before i1.
int64_t visible_keys(const AttentionGeom& g, int64_t i1) { return g.causal ? std::min(g.S, i1) : g.S; }

// Scores of query rows [i0, i0 + n) of head (b, h) against keys [j0, j0 + m):
// scale q k^T + mask, -inf where causality hides a key.
template <class T>
void block_scores(const AttentionGeom& g, int64_t b, int64_t h, const T* qh, const T* kh, const T* mask, int64_t i0,
                  int64_t n, int64_t j0, int64_t m, T* s) {
  gemm(false, true, n, m, g.E, static_cast<T>(g.scale), qh + i0 * g.E, g.E, kh + j0 * g.E, g.E, T(0), s, m);
  if (mask) {
    const T* mh = mask + b * g.mask_b + h * g.mask_h + j0;
    for (int64_t r = 0; r < n; ++r) {
      const T* __restrict mr = mh + (i0 + r) * g.mask_i;
      T* __restrict sr = s + r * m;
#pragma omp simd
      for (int64_t c = 0; c < m; ++c) sr[c] += mr[c];
    }
  }
  if (g.causal)
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = std::max<int64_t>(0, i0 + r + 1 - j0); c < m; ++c) s[r * m + c] = -std::numeric_limits<T>::infinity();
}

// The online softmax of query rows [i0, i0 + n) of head (b, h) over keys
// [k0, k1): o (unnormalized, [n, Ev]), running max mx and sum l.
template <class T>
void attend_rows(const AttentionGeom& g, int64_t b, int64_t h, const T* q, const T* k, const T* v, const T* mask,
                 int64_t i0, int64_t n, int64_t k0, int64_t k1, T* o, T* mx, T* l) {
  const int64_t kvh = b * g.Hk + h / (g.Hq / g.Hk);
  const T* qh = q + (b * g.Hq + h) * g.L * g.E;
  const T* kh = k + kvh * g.S * g.E;
  const T* vh = v + kvh * g.S * g.Ev;
  std::vector<T> s(n * kBlockK), alpha(n);
  std::fill(o, o + n * g.Ev, T(0));
  std::fill(mx, mx + n, -std::numeric_limits<T>::infinity());
  std::fill(l, l + n, T(0));
  const TypedKernels<T>& vk = vec_for<T>();
  for (int64_t j0 = k0; j0 < k1; j0 += kBlockK) {
    const int64_t m = std::min(kBlockK, k1 - j0);
    block_scores(g, b, h, qh, kh, mask, i0, n, j0, m, s.data());
    vk.attn_online_softmax(n, m, s.data(), m, mx, l, alpha.data());
    for (int64_t r = 0; r < n; ++r)
      if (alpha[r] != T(1))
        for (int64_t e = 0; e < g.Ev; ++e) o[r * g.Ev + e] *= alpha[r];
    gemm(false, false, n, g.Ev, m, T(1), s.data(), m, vh + j0 * g.Ev, g.Ev, T(1), o, g.Ev);
  }
}

// out = o / l and lse = mx + log l per row (0 and -inf where nothing was visible).
template <class T> void finish_rows(int64_t n, int64_t Ev, const T* o, const T* mx, const T* l, T* out, T* lse) {
  for (int64_t r = 0; r < n; ++r) {
    const bool none = l[r] == T(0);
    const T inv = none ? T(0) : T(1) / l[r];
    for (int64_t e = 0; e < Ev; ++e) out[r * Ev + e] = o[r * Ev + e] * inv;
    lse[r] = none ? -std::numeric_limits<T>::infinity() : mx[r] + std::log(l[r]);
  }
}

}  // namespace

template <class T>
void attention_forward(const AttentionGeom& g, const T* q, const T* k, const T* v, const T* mask, T* out, T* lse) {
  const int64_t nqb = ceil_div(g.L, kBlockQ), rows = g.B * g.Hq * nqb;
  const int64_t work = g.B * g.Hq * g.L * g.S * (g.E + g.Ev);
  // Too few query blocks to occupy the threads (decoding: one query row): split the keys too.
  const int threads = omp_get_max_threads();
  const int64_t chunks =
      rows >= threads || !worth_parallel(work) ? 1 : std::min(ceil_div(2 * threads, rows), ceil_div(g.S, kBlockK));
  if (chunks == 1) {
    parallel_for_uneven(rows, work, [&](int64_t item) {
      const int64_t bh = item / nqb, i0 = (item % nqb) * kBlockQ, n = std::min(kBlockQ, g.L - i0);
      std::vector<T> o(n * g.Ev), mx(n), l(n);
      attend_rows(g, bh / g.Hq, bh % g.Hq, q, k, v, mask, i0, n, 0, visible_keys(g, i0 + n), o.data(), mx.data(),
                  l.data());
      finish_rows(n, g.Ev, o.data(), mx.data(), l.data(), out + (bh * g.L + i0) * g.Ev, lse + bh * g.L + i0);
    });
    return;
  }
  // Each (query block, key chunk) keeps its partial softmax; then they merge:
  // out = sum_c e^(mx_c - M) o_c / sum_c e^(mx_c - M) l_c with M the largest mx_c.
  const int64_t rows_q = std::min(kBlockQ, g.L);
  std::vector<T> po(rows * chunks * rows_q * g.Ev), pm(rows * chunks * rows_q), pl(rows * chunks * rows_q);
  parallel_for_uneven(rows * chunks, work, [&](int64_t item) {
    const int64_t row = item / chunks, c = item % chunks;
    const int64_t bh = row / nqb, i0 = (row % nqb) * kBlockQ, n = std::min(kBlockQ, g.L - i0);
    const int64_t keys = visible_keys(g, i0 + n), per = ceil_div(ceil_div(keys, chunks), kBlockK) * kBlockK;
    const int64_t k0 = std::min(keys, c * per), k1 = std::min(keys, k0 + per);
    const int64_t at = item * rows_q;
    attend_rows(g, bh / g.Hq, bh % g.Hq, q, k, v, mask, i0, n, k0, k1, po.data() + at * g.Ev, pm.data() + at,
                pl.data() + at);
  });
  parallel_for(rows, rows_q * chunks * g.Ev, [&](int64_t row) {
    const int64_t bh = row / nqb, i0 = (row % nqb) * kBlockQ, n = std::min(kBlockQ, g.L - i0);
    std::vector<T> o(n * g.Ev, T(0)), mx(n), l(n, T(0));
    for (int64_t r = 0; r < n; ++r) {
      T M = -std::numeric_limits<T>::infinity();
      for (int64_t c = 0; c < chunks; ++c) M = std::max(M, pm[(row * chunks + c) * rows_q + r]);
      mx[r] = M;
      if (M == -std::numeric_limits<T>::infinity()) continue;
      for (int64_t c = 0; c < chunks; ++c) {
        const int64_t at = (row * chunks + c) * rows_q + r;
        if (pl[at] == T(0)) continue;
        const T w = std::exp(pm[at] - M);
        l[r] += w * pl[at];
        for (int64_t e = 0; e < g.Ev; ++e) o[r * g.Ev + e] += w * po[at * g.Ev + e];
      }
    }
    finish_rows(n, g.Ev, o.data(), mx.data(), l.data(), out + (bh * g.L + i0) * g.Ev, lse + bh * g.L + i0);
  });
}

template <class T>
void attention_backward(const AttentionGeom& g, const T* q, const T* k, const T* v, const T* mask, const T* out,
                        const T* dout, const T* lse, T* dq, T* dk, T* dv) {
  // D = rowsum(dout * out): the softmax backward's per-row term.
  std::vector<T> D(g.B * g.Hq * g.L);
  parallel_ranges(g.B * g.Hq * g.L, g.B * g.Hq * g.L * g.Ev, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      double s = 0;
      for (int64_t e = 0; e < g.Ev; ++e) s += double(dout[r * g.Ev + e]) * out[r * g.Ev + e];
      D[r] = static_cast<T>(s);
    }
  });
  if (dq) std::fill(dq, dq + g.B * g.Hq * g.L * g.E, T(0));
  const int64_t group = g.Hq / g.Hk, nqb = ceil_div(g.L, kBlockQ);
  const int64_t work = 2 * g.B * g.Hq * g.L * g.S * (g.E + g.Ev);
  const T scale = static_cast<T>(g.scale);
  const TypedKernels<T>& vk = vec_for<T>();
  // One item per key/value head: it alone writes that head's dk, dv and the dq of its query heads.
  parallel_for_uneven(g.B * g.Hk, work, [&](int64_t item) {
    const int64_t b = item / g.Hk, hk = item % g.Hk;
    const T* kh = k + item * g.S * g.E;
    const T* vh = v + item * g.S * g.Ev;
    std::vector<T> s(kBlockQ * kBlockK), dp(kBlockQ * kBlockK), gk(kBlockK * g.E), gv(kBlockK * g.Ev);
    for (int64_t j0 = 0; j0 < g.S; j0 += kBlockK) {
      const int64_t m = std::min(kBlockK, g.S - j0);
      std::fill(gk.begin(), gk.end(), T(0));
      std::fill(gv.begin(), gv.end(), T(0));
      for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
        const int64_t bh = b * g.Hq + h;
        const T* qh = q + bh * g.L * g.E;
        const T* doh = dout + bh * g.L * g.Ev;
        // Causal: query blocks that end before j0 see none of these keys.
        for (int64_t qb = g.causal ? j0 / kBlockQ : 0; qb < nqb; ++qb) {
          const int64_t i0 = qb * kBlockQ, n = std::min(kBlockQ, g.L - i0);
          block_scores(g, b, h, qh, kh, mask, i0, n, j0, m, s.data());
          gemm(false, true, n, m, g.Ev, T(1), doh + i0 * g.Ev, g.Ev, vh + j0 * g.Ev, g.Ev, T(0), dp.data(), m);
          vk.attn_probs_grad(n, m, s.data(), dp.data(), m, lse + bh * g.L + i0, D.data() + bh * g.L + i0);
          if (dv) gemm(true, false, m, g.Ev, n, T(1), s.data(), m, doh + i0 * g.Ev, g.Ev, T(1), gv.data(), g.Ev);
          if (dq) gemm(false, false, n, g.E, m, scale, dp.data(), m, kh + j0 * g.E, g.E, T(1), dq + (bh * g.L + i0) * g.E, g.E);
          if (dk) gemm(true, false, m, g.E, n, scale, dp.data(), m, qh + i0 * g.E, g.E, T(1), gk.data(), g.E);
        }
      }
      if (dk) std::copy(gk.begin(), gk.begin() + m * g.E, dk + (item * g.S + j0) * g.E);
      if (dv) std::copy(gv.begin(), gv.begin() + m * g.Ev, dv + (item * g.S + j0) * g.Ev);
    }
  });
}

template void attention_forward<float>(const AttentionGeom&, const float*, const float*, const float*, const float*,
                                       float*, float*);
template void attention_forward<double>(const AttentionGeom&, const double*, const double*, const double*,
                                        const double*, double*, double*);
template void attention_backward<float>(const AttentionGeom&, const float*, const float*, const float*, const float*,
                                        const float*, const float*, const float*, float*, float*, float*);
template void attention_backward<double>(const AttentionGeom&, const double*, const double*, const double*,
                                         const double*, const double*, const double*, const double*, double*, double*,
                                         double*);

}  // namespace nabla::kernels
