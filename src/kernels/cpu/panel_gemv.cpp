#include "kernels/cpu/panel_gemv.h"

#include <omp.h>

#include <cmath>
#include <cstring>

#include "kernels/cpu/vec/table.h"

namespace nabla::kernels {


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
  const PanelDotFn dot = vec().panel_dot;
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
      dot(xr, w.data.data() + p * K * kPanel, kept, nkeep, acc);
      const int64_t n0 = p * kPanel, width = N - n0 < kPanel ? N - n0 : kPanel;
      for (int64_t j = 0; j < width; ++j) yr[n0 + j] = b ? acc[j] + b[n0 + j] : acc[j];
    }
  }
}

}  // namespace nabla::kernels
