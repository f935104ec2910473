// Pooling of planar images, one [H, W] plane at a time (ops/pool.cpp splits
// the planes over the threads). Max pooling saves each output's flat index in
// the plane; its backward scatters by it. Average windows are separable, so
// they come as row and column ranges.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/vec/kernels.h"

namespace nabla::kernels::NABLA_ISA {

namespace {

// 2x2 windows with stride 2 inside the image, no NaN in the plane: plain
// comparisons decide (ties keep the first element), selects instead of branches.
template <class T> void max_pool_plane_2x2(const PoolGeom& g, const T* plane, T* out, int64_t* at) {
  const int64_t W = g.W, Ho = g.Ho, Wo = g.Wo;  // locals: the i64 index stores could alias g otherwise
  for (int64_t y = 0; y < Ho; ++y) {
    const T* r0 = plane + 2 * y * W;
    const T* r1 = r0 + W;
    T* __restrict orow = out + y * Wo;
    int64_t* __restrict irow = at + y * Wo;
    const int64_t row0 = 2 * y * W;
    for (int64_t xo = 0; xo < Wo; ++xo) {
      const T a = r0[2 * xo], b = r0[2 * xo + 1], c = r1[2 * xo], d = r1[2 * xo + 1];
      // std::max(x, y) is (x < y ? y : x): ties keep x; the comparisons index as 0/1.
      const T top = std::max(a, b), bot = std::max(c, d);
      const int64_t it = a < b, ib = W + (c < d), lower = top < bot;
      orow[xo] = std::max(top, bot);
      irow[xo] = row0 + 2 * xo + it + lower * (ib - it);
    }
  }
}

}  // namespace

template <class T> void max_pool_plane(const PoolGeom& g, const T* plane, T* out, int64_t* at) {
  const bool two_by_two = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 && g.dh == 1 &&
                          g.dw == 1 && 2 * g.Ho <= g.H && 2 * g.Wo <= g.W;
  if (two_by_two) {
    int nan_count = 0;
#pragma omp simd reduction(+ : nan_count)
    for (int64_t i = 0; i < g.H * g.W; ++i) nan_count += plane[i] != plane[i];
    if (nan_count == 0) return max_pool_plane_2x2(g, plane, out, at);
  }
  // Any window: the first maximum wins, and the first NaN, as in PyTorch.
  for (int64_t y = 0; y < g.Ho; ++y)
    for (int64_t xo = 0; xo < g.Wo; ++xo) {
      T best = -std::numeric_limits<T>::infinity();
      int64_t arg = -1;
      for (int64_t i = 0; i < g.kh; ++i) {
        const int64_t iy = y * g.sh - g.ph + i * g.dh;
        if (iy < 0 || iy >= g.H) continue;
        for (int64_t j = 0; j < g.kw; ++j) {
          const int64_t ix = xo * g.sw - g.pw + j * g.dw;
          if (ix < 0 || ix >= g.W) continue;
          const T v = plane[iy * g.W + ix];
          if (v > best || std::isnan(v) || arg < 0) {
            best = v;
            arg = iy * g.W + ix;
            if (std::isnan(v)) break;
          }
        }
      }
      out[y * g.Wo + xo] = best;
      at[y * g.Wo + xo] = arg;
    }
}

template <class T> void max_pool_plane_backward(int64_t n_out, const T* g, const int64_t* at, T* dx) {
  for (int64_t k = 0; k < n_out; ++k) dx[at[k]] += g[k];
}

template <class T> void avg_pool_plane(const AvgWindows& w, const T* plane, T* out) {
  for (int64_t y = 0; y < w.Ho; ++y)
    for (int64_t xo = 0; xo < w.Wo; ++xo) {
      const int64_t div = w.ydiv[y] * w.xdiv[xo];
      T acc = 0;
      for (int64_t iy = w.y0[y]; iy < w.y1[y]; ++iy)
        for (int64_t ix = w.x0[xo]; ix < w.x1[xo]; ++ix) acc += plane[iy * w.W + ix];
      out[y * w.Wo + xo] = div > 0 ? acc / T(div) : T(0);
    }
}

template <class T> void avg_pool_plane_backward(const AvgWindows& w, const T* g, T* dx) {
  for (int64_t y = 0; y < w.Ho; ++y)
    for (int64_t xo = 0; xo < w.Wo; ++xo) {
      const int64_t div = w.ydiv[y] * w.xdiv[xo];
      if (div == 0) continue;
      const T v = g[y * w.Wo + xo] / T(div);
      for (int64_t iy = w.y0[y]; iy < w.y1[y]; ++iy)
        for (int64_t ix = w.x0[xo]; ix < w.x1[xo]; ++ix) dx[iy * w.W + ix] += v;
    }
}

#define NABLA_POOL_PLANES(T)                                                              \
  template void max_pool_plane<T>(const PoolGeom&, const T*, T*, int64_t*);               \
  template void max_pool_plane_backward<T>(int64_t, const T*, const int64_t*, T*);        \
  template void avg_pool_plane<T>(const AvgWindows&, const T*, T*);                       \
  template void avg_pool_plane_backward<T>(const AvgWindows&, const T*, T*);
NABLA_POOL_PLANES(float)
NABLA_POOL_PLANES(double)
#undef NABLA_POOL_PLANES

}  // namespace nabla::kernels::NABLA_ISA
