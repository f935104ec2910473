#pragma once
// Dense layer for a handful of rows at inference, reading only the weights that
// meet a nonzero input. After a ReLU about half the activations are exactly 0
// (and so are the background pixels of many images); a weight column that only
// meets zeros contributes nothing, so batch-1 inference can skip it. Skipping
// needs W^T: the weights are packed once into panels of 64 outputs, [K][64]
// each, so the kept rows of a panel are read as whole cache lines.
#include <cstdint>
#include <vector>

namespace nabla::kernels {

/// Outputs per panel: four 16-float vectors of accumulators.
constexpr int64_t kPanel = 64;

/// W [N, K] packed as ceil(N / 64) panels of [K][64] (the last one padded with
/// zeros), plus, per k, whether column k of W is all finite: a column holding
/// inf or NaN is never skipped, since 0 * inf is NaN.
struct PanelWeights {
  int64_t N = 0, K = 0;
  std::vector<float> data;
  std::vector<uint8_t> finite;  // [K]
  int64_t bytes() const { return static_cast<int64_t>(data.size() * sizeof(float) + finite.size()); }
};

/// Packs w [N, K] (row-major).
PanelWeights pack_panels(const float* w, int64_t N, int64_t K);

/// y[m, n] = sum_k x[m, k] w[n, k] (+ b[n]) for M rows, skipping k where
/// x[m, k] == 0 and column k is finite. Each thread takes a fixed share of the
/// panels, so repeated calls find their weights in that core's cache.
void linear_panels(const float* x, const PanelWeights& w, const float* b, float* y, int64_t M);

}  // namespace nabla::kernels
