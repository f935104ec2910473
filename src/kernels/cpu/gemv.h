#pragma once
// Dense layer for a handful of rows (batch-1 inference): y = x W^T + b.
#include <cstdint>

namespace nabla::kernels {

/// y[m, n] = sum_k x[m, k] w[n, k] (+ b[n]) for m < kSmallBatch rows. BLAS's
/// GEMM is built for large products; here each thread takes a fixed share of
/// W's rows, so with repeated calls every core keeps its share in its own cache.
void linear_small_batch(const float* x, const float* w, const float* b, float* y, int64_t M, int64_t N, int64_t K);

/// Row counts at or below this take linear_small_batch.
constexpr int64_t kSmallBatch = 4;

}  // namespace nabla::kernels
