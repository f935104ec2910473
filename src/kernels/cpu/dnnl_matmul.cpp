#include "kernels/cpu/dnnl_matmul.h"

#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <vector>

#include "kernels/cpu/dnnl_runtime.h"
#include "kernels/cpu/gemm.h"
#include "nabla/tensor/half.h"

namespace nabla::kernels {

namespace {

using dnnl::memory;
using dt = memory::data_type;

using Key = std::tuple<int64_t, int64_t, int64_t, bool, bool, int64_t, int64_t, int64_t, float>;

// The matrix [rows, cols] stored row-major with leading dim ld, or its
// transpose stored so (trans): strides say which.
memory::desc matrix(int64_t rows, int64_t cols, bool trans, int64_t ld) {
  return memory::desc({rows, cols}, dt::bf16, trans ? memory::dims{1, ld} : memory::dims{ld, 1});
}

dnnl::matmul build(const Key& k) {
  const auto [M, N, K, ta, tb, lda, ldb, ldc, beta] = k;
  dnnl::primitive_attr attr;
  if (beta != 0.0f) {
    dnnl::post_ops po;
    po.append_sum(beta);
    attr.set_post_ops(po);
  }
  dnnl::matmul::desc d(matrix(M, K, ta, lda), matrix(K, N, tb, ldb), matrix(M, N, false, ldc));
  return dnnl::matmul(dnnl::matmul::primitive_desc(d, attr, dnnl_engine()));
}

// Primitives are cheap to keep but a loop over growing lengths (decoding with a
// cache) makes a new shape each step: past this many the cache starts afresh.
constexpr size_t kMaxCached = 512;
std::mutex g_mu;
std::map<Key, std::shared_ptr<dnnl::matmul>> g_cache;

std::shared_ptr<dnnl::matmul> primitive(const Key& k) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_cache.find(k);
  if (it != g_cache.end()) return it->second;
  if (g_cache.size() >= kMaxCached) g_cache.clear();
  return g_cache.emplace(k, std::make_shared<dnnl::matmul>(build(k))).first->second;
}

// op(X) as a dense f32 [rows, cols] copy.
std::vector<float> widen(const uint16_t* X, int64_t rows, int64_t cols, bool trans, int64_t ld) {
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      out[i * cols + j] = half_bits::bf16_to_float(trans ? X[j * ld + i] : X[i * ld + j]);
  return out;
}

void gemm_through_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda,
                      const uint16_t* B, int64_t ldb, float beta, uint16_t* C, int64_t ldc) {
  const std::vector<float> a = widen(A, M, K, ta, lda), b = widen(B, K, N, tb, ldb);
  std::vector<float> c = beta != 0.0f ? widen(C, M, N, false, ldc) : std::vector<float>(static_cast<size_t>(M * N));
  gemm(false, false, M, N, K, 1.0f, a.data(), K, b.data(), N, beta, c.data(), N);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = half_bits::bf16_from_float(c[i * N + j]);
}

}  // namespace

void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda,
               const uint16_t* B, int64_t ldb, float beta, uint16_t* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (native_bf16() && K > 0) {
    try {
      const Key k{M, N, K, trans_a, trans_b, lda, ldb, ldc, beta};
      std::shared_ptr<dnnl::matmul> p = primitive(k);
      const dnnl::engine& eng = dnnl_engine();
      memory a(matrix(M, K, trans_a, lda), eng, const_cast<uint16_t*>(A));
      memory b(matrix(K, N, trans_b, ldb), eng, const_cast<uint16_t*>(B));
      memory c(matrix(M, N, false, ldc), eng, C);
      p->execute(dnnl_stream(), {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
      dnnl_stream().wait();
      return;
    } catch (const dnnl::error&) {
      dnnl_mark_failed();
    }
  }
  gemm_through_f32(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace nabla::kernels
