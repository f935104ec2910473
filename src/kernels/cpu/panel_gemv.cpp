#include "kernels/cpu/panel_gemv.h"

#include <omp.h>

#include <cmath>
#include <cstring>

namespace nabla::kernels {

namespace {

// 16 floats; GCC maps it to one AVX-512 register (or two AVX2 ones).
typedef float v16 __attribute__((vector_size(64)));

inline v16 load(const float* p) {
  v16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store(float* p, v16 v) { std::memcpy(p, &v, sizeof v); }

// One panel: acc[64] = sum over the kept k of x[k] * panel[k][0..64). Two sets
// of accumulators so consecutive FMAs do not wait on each other.
void panel_dot(const float* x, const float* panel, const int32_t* keep, int64_t nkeep, float* out) {
  v16 a0{}, a1{}, a2{}, a3{}, b0{}, b1{}, b2{}, b3{};
  int64_t i = 0;
  for (; i + 2 <= nkeep; i += 2) {
    const float *r = panel + keep[i] * kPanel, *q = panel + keep[i + 1] * kPanel;
    const float xr = x[keep[i]], xq = x[keep[i + 1]];
    a0 += xr * load(r);
    a1 += xr * load(r + 16);
    a2 += xr * load(r + 32);
    a3 += xr * load(r + 48);
    b0 += xq * load(q);
    b1 += xq * load(q + 16);
    b2 += xq * load(q + 32);
    b3 += xq * load(q + 48);
  }
  if (i < nkeep) {
    const float* r = panel + keep[i] * kPanel;
    const float xr = x[keep[i]];
    a0 += xr * load(r);
    a1 += xr * load(r + 16);
    a2 += xr * load(r + 32);
    a3 += xr * load(r + 48);
  }
  store(out, a0 + b0);
  store(out + 16, a1 + b1);
  store(out + 32, a2 + b2);
  store(out + 48, a3 + b3);
}

}  // namespace

PanelWeights pack_panels(const float* w, int64_t N, int64_t K) {
  PanelWeights p;
  p.N = N;
  p.K = K;
  const int64_t panels = (N + kPanel - 1) / kPanel;
  p.data.assign(static_cast<size_t>(panels * K * kPanel), 0.0f);
  p.finite.assign(static_cast<size_t>(K), 1);
  for (int64_t n = 0; n < N; ++n) {
    float* dst = p.data.data() + (n / kPanel) * K * kPanel + n % kPanel;
    const float* src = w + n * K;
    for (int64_t k = 0; k < K; ++k) {
      dst[k * kPanel] = src[k];
      if (!std::isfinite(src[k])) p.finite[k] = 0;
    }
  }
  return p;
}

void linear_panels(const float* x, const PanelWeights& w, const float* b, float* y, int64_t M) {
  const int64_t N = w.N, K = w.K, panels = (N + kPanel - 1) / kPanel;
  thread_local std::vector<int32_t> keep;  // reused: no allocation per call
  keep.resize(static_cast<size_t>(K));
  const bool parallel = panels > 1 && N * K >= 65536 && omp_get_max_threads() > 1;
  for (int64_t m = 0; m < M; ++m) {
    const float* xr = x + m * K;
    int64_t nkeep = 0;
    for (int64_t k = 0; k < K; ++k)
      if (xr[k] != 0.0f || !w.finite[k]) keep[nkeep++] = static_cast<int32_t>(k);
    float* yr = y + m * N;
    const int32_t* kept = keep.data();  // this thread's list; inside the region `keep` would name each thread's own
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t p = 0; p < panels; ++p) {
      float acc[kPanel];
      panel_dot(xr, w.data.data() + p * K * kPanel, kept, nkeep, acc);
      const int64_t n0 = p * kPanel, width = N - n0 < kPanel ? N - n0 : kPanel;
      for (int64_t j = 0; j < width; ++j) yr[n0 + j] = b ? acc[j] + b[n0 + j] : acc[j];
    }
  }
}

}  // namespace nabla::kernels
