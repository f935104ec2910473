#pragma once
// Iteration over an N-d index space shared by several strided operands.
// Kernels see only pointers, sizes and strides; no Tensor here.
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstdint>
#include <vector>

#include "kernels/cpu/isa_namespace.h"

namespace nabla::kernels {
inline namespace NABLA_ISA {

/// Below this many elements a loop stays on one thread: waking the pool costs more.
constexpr int64_t kParallelGrain = 32768;

/// A loop nest over `sizes` where operand k advances by strides[k][d] elements
/// along dim d. Dims that can be walked as one are merged at construction.
template <size_t N>
struct StridedLoop {
  std::vector<int64_t> sizes;
  std::array<std::vector<int64_t>, N> strides;

  StridedLoop(const std::vector<int64_t>& in_sizes, const std::array<const std::vector<int64_t>*, N>& in_strides) {
    // Drop size-1 dims and walk the rest in operand 0's memory order (largest
    // stride outermost), so a channels-last or transposed output is written
    // sequentially; then merge dim d into d+1 when every operand is linear across them.
    std::vector<size_t> dims;
    for (size_t d = 0; d < in_sizes.size(); ++d)
      if (in_sizes[d] != 1) dims.push_back(d);
    const std::vector<int64_t>& s0 = *in_strides[0];
    std::stable_sort(dims.begin(), dims.end(),
                     [&](size_t a, size_t b) { return std::abs(s0[a]) > std::abs(s0[b]); });
    for (size_t d : dims) {
      sizes.push_back(in_sizes[d]);
      for (size_t k = 0; k < N; ++k) strides[k].push_back((*in_strides[k])[d]);
    }
    std::vector<int64_t> ms;
    std::array<std::vector<int64_t>, N> mst;
    for (size_t d = 0; d < sizes.size(); ++d) {
      if (!ms.empty()) {
        bool mergeable = true;
        for (size_t k = 0; k < N; ++k)
          if (mst[k].back() != strides[k][d] * sizes[d]) mergeable = false;
        if (mergeable) {
          ms.back() *= sizes[d];
          for (size_t k = 0; k < N; ++k) mst[k].back() = strides[k][d];
          continue;
        }
      }
      ms.push_back(sizes[d]);
      for (size_t k = 0; k < N; ++k) mst[k].push_back(strides[k][d]);
    }
    sizes = std::move(ms);
    strides = std::move(mst);
  }

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t s : sizes) n *= s;
    return n;
  }

  /// Calls body(offsets, n, inner_strides) for each innermost run, where
  /// offsets[k] is operand k's element offset of the run's first element.
  template <class Body>
  void run(Body&& body, bool allow_parallel = true) const {
    std::array<int64_t, N> zero{};
    if (sizes.empty()) {
      std::array<int64_t, N> ones;
      ones.fill(1);
      body(zero, int64_t{1}, ones);
      return;
    }
    const int nd = static_cast<int>(sizes.size());
    const int64_t inner = sizes[nd - 1];
    if (numel() == 0) return;  // a dim of size 0: nothing to visit
    std::array<int64_t, N> inner_st;
    for (size_t k = 0; k < N; ++k) inner_st[k] = strides[k][nd - 1];
    const int64_t outer = numel() / inner;
    const int64_t total = outer * inner;
    int nthreads = allow_parallel && total >= kParallelGrain ? omp_get_max_threads() : 1;

    if (outer == 1) {
      if (nthreads <= 1) {
        body(zero, inner, inner_st);
        return;
      }
#pragma omp parallel num_threads(nthreads)
      {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t lo = inner * t / nt, hi = inner * (t + 1) / nt;
        std::array<int64_t, N> off;
        for (size_t k = 0; k < N; ++k) off[k] = lo * inner_st[k];
        if (hi > lo) body(off, hi - lo, inner_st);
      }
      return;
    }

    auto run_range = [&](int64_t begin, int64_t end) {
      // Decompose `begin` into the outer counter once, then step it like an odometer.
      std::vector<int64_t> idx(nd - 1);
      std::array<int64_t, N> off{};
      int64_t rem = begin;
      for (int d = nd - 2; d >= 0; --d) {
        idx[d] = rem % sizes[d];
        rem /= sizes[d];
        for (size_t k = 0; k < N; ++k) off[k] += idx[d] * strides[k][d];
      }
      for (int64_t i = begin; i < end; ++i) {
        body(off, inner, inner_st);
        for (int d = nd - 2; d >= 0; --d) {
          if (++idx[d] < sizes[d]) {
            for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
            break;
          }
          for (size_t k = 0; k < N; ++k) off[k] -= (sizes[d] - 1) * strides[k][d];
          idx[d] = 0;
        }
      }
    };
    if (nthreads <= 1) {
      run_range(0, outer);
      return;
    }
#pragma omp parallel num_threads(nthreads)
    {
      int t = omp_get_thread_num(), nt = omp_get_num_threads();
      int64_t lo = outer * t / nt, hi = outer * (t + 1) / nt;
      if (hi > lo) run_range(lo, hi);
    }
  }
};

}  // namespace NABLA_ISA
}  // namespace nabla::kernels
