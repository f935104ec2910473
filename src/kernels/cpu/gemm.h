#pragma once
// Row-major GEMM: C = alpha * op(A) op(B) + beta * C. f32 runs on OpenBLAS or
// oneDNN, whichever this machine measured faster for the shape (gemm_choice.h);
// f64 (gradient checks) on OpenBLAS.
#include <cstdint>

namespace nabla::kernels {

/// op(A) is M x K (A stored K x M when trans_a), op(B) is K x N; lda/ldb/ldc are row strides.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

}  // namespace nabla::kernels
