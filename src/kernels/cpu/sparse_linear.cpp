#include "kernels/cpu/sparse_linear.h"

#include <algorithm>

#include "kernels/cpu/parallel.h"

namespace nabla::kernels {

CsrMatrix csr_from_dense(const float* w, int64_t rows, int64_t cols) {
  CsrMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.indptr.reserve(rows + 1);
  m.indptr.push_back(0);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w + r * cols;
    for (int64_t c = 0; c < cols; ++c)
      if (row[c] != 0.0f) {
        m.indices.push_back(static_cast<int32_t>(c));
        m.values.push_back(row[c]);
      }
    m.indptr.push_back(m.nnz());
  }
  return m;
}

namespace {

// One output row for one input row: four independent sums so the adds overlap.
inline float row_dot(const float* v, const int32_t* idx, int64_t n, const float* x) {
  float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    a0 += v[k] * x[idx[k]];
    a1 += v[k + 1] * x[idx[k + 1]];
    a2 += v[k + 2] * x[idx[k + 2]];
    a3 += v[k + 3] * x[idx[k + 3]];
  }
  for (; k < n; ++k) a0 += v[k] * x[idx[k]];
  return (a0 + a1) + (a2 + a3);
}

// Up to kRowsAtOnce input rows per pass over a weight row: each nonzero is read once for all of them.
constexpr int64_t kRowsAtOnce = 8;

}  // namespace

void csr_linear(const CsrMatrix& w, const float* x, const float* b, float* y, int64_t M) {
  const int64_t N = w.rows, K = w.cols;
  // Rows are split by index; with similar nonzeros per row that balances the threads' work.
  parallel_ranges(N, w.nnz() * std::max<int64_t>(M, 1), [&](int64_t lo, int64_t hi) {
    for (int64_t m0 = 0; m0 < M; m0 += kRowsAtOnce) {
      const int64_t mb = std::min(kRowsAtOnce, M - m0);
      for (int64_t r = lo; r < hi; ++r) {
        const int64_t k0 = w.indptr[r], n = w.indptr[r + 1] - k0;
        const float* v = w.values.data() + k0;
        const int32_t* idx = w.indices.data() + k0;
        const float bias = b ? b[r] : 0.0f;
        if (mb == 1) {
          y[m0 * N + r] = row_dot(v, idx, n, x + m0 * K) + bias;
          continue;
        }
        float acc[kRowsAtOnce] = {};
        for (int64_t k = 0; k < n; ++k) {
          const float vk = v[k];
          const float* xc = x + m0 * K + idx[k];
          for (int64_t m = 0; m < mb; ++m) acc[m] += vk * xc[m * K];
        }
        for (int64_t m = 0; m < mb; ++m) y[(m0 + m) * N + r] = acc[m] + bias;
      }
    }
  });
}

}  // namespace nabla::kernels
