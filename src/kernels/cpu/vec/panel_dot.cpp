// The inner product of the batch-1 dense panels (kernels/cpu/panel_gemv.h).
#include <cstring>

#include "kernels/cpu/vec/kernels.h"

namespace nabla::kernels::NABLA_ISA {

namespace {

// The widest vector of this ISA, so GCC maps each to one register: 16 floats
// (AVX-512), 8 (AVX2) or 4 (SSE).
#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX2__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float vf __attribute__((vector_size(kLanes * 4)));

inline vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

constexpr int64_t kWidth = 64;
constexpr int kAcc = kWidth / kLanes;  // accumulators per panel row
// With 4 accumulators per row (AVX-512), two rows at a time keep 8 FMAs in
// flight; with 8 or 16 (AVX2, SSE) one row already does, and two would spill.
constexpr int kRows = kAcc <= 4 ? 2 : 1;

}  // namespace

void panel_dot(const float* x, const float* panel, const int32_t* keep, int64_t nkeep, float* out) {
  vf acc[kRows][kAcc] = {};
  int64_t i = 0;
  for (; i + kRows <= nkeep; i += kRows) {
    for (int r = 0; r < kRows; ++r) {
      const float* row = panel + keep[i + r] * kWidth;
      const float xr = x[keep[i + r]];
      for (int j = 0; j < kAcc; ++j) acc[r][j] += xr * load(row + j * kLanes);
    }
  }
  for (; i < nkeep; ++i) {
    const float* row = panel + keep[i] * kWidth;
    const float xr = x[keep[i]];
    for (int j = 0; j < kAcc; ++j) acc[0][j] += xr * load(row + j * kLanes);
  }
  for (int j = 0; j < kAcc; ++j) {
    vf sum = acc[0][j];
    for (int r = 1; r < kRows; ++r) sum += acc[r][j];
    std::memcpy(out + j * kLanes, &sum, sizeof sum);
  }
}

}  // namespace nabla::kernels::NABLA_ISA
