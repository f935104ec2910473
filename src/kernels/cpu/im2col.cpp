#include "kernels/cpu/im2col.h"

#include <cstring>

namespace nabla::kernels {

template <class T> void im2col(const T* img, const ConvGeom& g, T* cols) {
  const int64_t HWo = g.Ho * g.Wo;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* row = cols + ((c * g.kh + i) * g.kw + j) * HWo;
        const T* plane = img + c * g.H * g.W;
        for (int64_t y = 0; y < g.Ho; ++y) {
          int64_t iy = y * g.sh - g.ph + i * g.dh;
          T* out = row + y * g.Wo;
          if (iy < 0 || iy >= g.H) {
            std::memset(out, 0, sizeof(T) * g.Wo);
            continue;
          }
          const T* src = plane + iy * g.W;
          int64_t x0 = j * g.dw - g.pw;
          if (g.sw == 1 && x0 >= 0 && x0 + g.Wo <= g.W) {
            std::memcpy(out, src + x0, sizeof(T) * g.Wo);  // the common interior case
            continue;
          }
          for (int64_t x = 0; x < g.Wo; ++x) {
            int64_t ix = x * g.sw + x0;
            out[x] = (ix >= 0 && ix < g.W) ? src[ix] : T(0);
          }
        }
      }
}

template <class T> void col2im(const T* cols, const ConvGeom& g, T* img) {
  const int64_t HWo = g.Ho * g.Wo;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* row = cols + ((c * g.kh + i) * g.kw + j) * HWo;
        T* plane = img + c * g.H * g.W;
        for (int64_t y = 0; y < g.Ho; ++y) {
          int64_t iy = y * g.sh - g.ph + i * g.dh;
          if (iy < 0 || iy >= g.H) continue;
          T* dst = plane + iy * g.W;
          const T* in = row + y * g.Wo;
          int64_t x0 = j * g.dw - g.pw;
          for (int64_t x = 0; x < g.Wo; ++x) {
            int64_t ix = x * g.sw + x0;
            if (ix >= 0 && ix < g.W) dst[ix] += in[x];
          }
        }
      }
}

template void im2col<float>(const float*, const ConvGeom&, float*);
template void im2col<double>(const double*, const ConvGeom&, double*);
template void col2im<float>(const float*, const ConvGeom&, float*);
template void col2im<double>(const double*, const ConvGeom&, double*);

}  // namespace nabla::kernels
