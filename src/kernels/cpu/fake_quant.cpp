#include "kernels/cpu/fake_quant.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/parallel.h"

namespace nabla::kernels {

template <class T>
void fake_quantize(const T* x, T* y, uint8_t* mask, int64_t n, int64_t channels, int64_t inner, const float* scale,
                   const int32_t* zero_point, int64_t qmin, int64_t qmax) {
  parallel_ranges(n, n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const int64_t c = channels == 1 ? 0 : (i / inner) % channels;
      const float inv = 1.0f / scale[c];
      // In float, as PyTorch's CPU kernel (x * inv_scale, rounded half to even).
      const double q = std::nearbyint(static_cast<float>(x[i]) * inv) + zero_point[c];
      const double qc = std::min<double>(std::max<double>(q, static_cast<double>(qmin)), static_cast<double>(qmax));
      y[i] = static_cast<T>((qc - zero_point[c]) * scale[c]);
      if (mask) mask[i] = q >= static_cast<double>(qmin) && q <= static_cast<double>(qmax);
    }
  });
}

template void fake_quantize<float>(const float*, float*, uint8_t*, int64_t, int64_t, int64_t, const float*,
                                   const int32_t*, int64_t, int64_t);
template void fake_quantize<double>(const double*, double*, uint8_t*, int64_t, int64_t, int64_t, const float*,
                                    const int32_t*, int64_t, int64_t);

}  // namespace nabla::kernels
