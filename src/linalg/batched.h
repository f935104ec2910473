#pragma once
// The shared plumbing of the linalg ops: checks, and one LAPACK call per
// matrix of a batch on a column-major copy.
#include <vector>

#include "kernels/cpu/lapack.h"
#include "nabla/tensor/dtype.h"
#include "nabla/tensor/error.h"
#include "nabla/tensor/tensor.h"

namespace nabla::linalg::detail {

/// A floating tensor with at least 2 dims (square when `square`).
inline void check_matrix(const Tensor& A, const char* op, bool square) {
  NABLA_CHECK(A.defined(), "{}: undefined input", op);
  NABLA_CHECK(A.dtype() == DType::f32 || A.dtype() == DType::f64, "{}: expected f32 or f64, got {}", op,
              dtype_name(A.dtype()));
  NABLA_CHECK(A.dim() >= 2, "{}: expected a matrix or a batch of matrices [..., m, n], got {}", op,
              shape_str(A.sizes()));
  if (square)
    NABLA_CHECK(A.size(-1) == A.size(-2), "{}: expected square matrices, got {}", op, shape_str(A.sizes()));
}

/// The leading (batch) dims.
inline Shape batch_of(const Tensor& A) { return Shape(A.sizes().begin(), A.sizes().end() - 2); }

inline Shape with(Shape batch, std::initializer_list<int64_t> tail) {
  batch.insert(batch.end(), tail);
  return batch;
}

/// Calls f(b, col) for each matrix b of contiguous row-major A [B..., m, n],
/// col holding matrix b in column-major order (a scratch buffer f may overwrite).
template <class T, class F> void for_each_matrix(const Tensor& A, F f) {
  Tensor c = A.contiguous();
  const int64_t m = A.size(-2), n = A.size(-1), B = m * n == 0 ? shape_numel(batch_of(A)) : A.numel() / (m * n);
  const T* p = c.const_data<T>();
  std::vector<T> col(static_cast<size_t>(m * n));
  for (int64_t b = 0; b < B; ++b) {
    kernels::lapack::to_column_major(p + b * m * n, m, n, col.data());
    f(b, col.data());
  }
}

}  // namespace nabla::linalg::detail

namespace nabla::linalg {
using detail::batch_of;
using detail::check_matrix;
using detail::with;
namespace lapack = kernels::lapack;
}  // namespace nabla::linalg
