#include "kernels/cpu/gemm.h"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include <omp.h>

#include <chrono>
#include <vector>

#include "kernels/cpu/gemm_choice.h"
#include "kernels/cpu/isa.h"

namespace nabla::kernels {

namespace {

void sgemm_with(GemmLib lib, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (lib == GemmLib::onednn &&
      dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == dnnl_success)
    return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
              static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb),
              beta, C, static_cast<int>(ldc));
}

// Seconds one library takes for shape s, on scratch operands (the caller's C
// may accumulate, so it is never used for timing).
double time_sgemm(const GemmShape& s, GemmLib lib) {
  thread_local std::vector<float> a, b, c;
  a.assign(static_cast<size_t>(s.M * s.K), 0.5f);
  b.assign(static_cast<size_t>(s.K * s.N), 0.25f);
  c.assign(static_cast<size_t>(s.M * s.N), 0.0f);
  const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
  const auto t0 = std::chrono::steady_clock::now();
  sgemm_with(lib, s.ta, s.tb, s.M, s.N, s.K, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), s.N);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  static const bool capped = (active_isa(), true);  // caps oneDNN's ISA before its first sgemm
  (void)capped;
  // Threads the GEMM can use: 1 inside a parallel region (no nesting).
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const GemmLib lib = gemm_choice({ta, tb, M, N, K, threads}, &time_sgemm);
  sgemm_with(lib, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
              static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb),
              beta, C, static_cast<int>(ldc));
}

}  // namespace nabla::kernels
