#pragma once
// A dense layer with an unstructured-sparse weight in CSR form: y = x W^T + b
// touching only W's nonzeros. For batch-1 and small-batch inference, where a
// pruned layer's cost is reading its weights.
#include <cstdint>
#include <vector>

namespace nabla::kernels {

/// W [rows, cols] by rows: row r's nonzeros are values[indptr[r] .. indptr[r + 1])
/// at columns indices[...] (ascending).
struct CsrMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> indptr;
  std::vector<int32_t> indices;
  std::vector<float> values;
  int64_t nnz() const { return static_cast<int64_t>(values.size()); }
};

/// The nonzeros of the contiguous row-major w [rows, cols] (cols < 2^31).
CsrMatrix csr_from_dense(const float* w, int64_t rows, int64_t cols);

/// y[m, r] = sum over W's nonzeros (r, c) of W[r, c] x[m, c] (+ b[r]) for
/// x [M, cols] and y [M, rows], both contiguous; b may be null.
void csr_linear(const CsrMatrix& w, const float* x, const float* b, float* y, int64_t M);

}  // namespace nabla::kernels
