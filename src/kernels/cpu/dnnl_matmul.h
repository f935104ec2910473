#pragma once
// bf16 matrix products on oneDNN's bf16 kernels (AVX512_BF16, AMX): bf16
// operands, f32 accumulation, a bf16 result.
#include <cstdint>

namespace nabla::kernels {

/// C[M, N] = op(A)[M, K] op(B)[K, N] + beta C, all bf16 (the raw 16-bit
/// patterns), row-major with leading dims lda, ldb, ldc; op transposes when its
/// flag is set. Runs on oneDNN when native_bf16(); otherwise (or if oneDNN
/// fails) through f32 copies and sgemm, which gives the same values up to the
/// order of the sums.
void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda,
               const uint16_t* B, int64_t ldb, float beta, uint16_t* C, int64_t ldc);

}  // namespace nabla::kernels
