#pragma once
// Loops over a channels-last batch seen as M rows of C values (M = N*H*W):
// per-channel sums and row-parallel maps, for batch norm and bias gradients.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu/isa_namespace.h"

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/strided_loop.h"

namespace nabla::kernels {
inline namespace NABLA_ISA {

/// K per-channel sums over the rows: f(r0, r1, acc) adds the terms of rows
/// [r0, r1) into acc[j * C + c], of the data's type T. Each thread sums its own block of rows
/// in runs of kRun rows, adding each run's sums into double totals (f32 vectors
/// run twice as wide as f64; a run is short enough for f32), then the threads'
/// totals add up in thread order (the same result for the same thread count).
template <int K, class T, class F> std::vector<double> column_sums(int64_t M, int64_t C, F f) {
  constexpr int64_t kRun = 64;
  const int nt = M * C >= kParallelGrain ? omp_get_max_threads() : 1;
  std::vector<double> part(static_cast<size_t>(nt) * K * C, 0.0), total(K * C, 0.0);
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), k = omp_get_num_threads();
    double* __restrict tot = part.data() + static_cast<size_t>(t) * K * C;
    std::vector<T> run(static_cast<size_t>(K * C));
    T* __restrict acc = run.data();
    for (int64_t r0 = M * t / k, hi = M * (t + 1) / k; r0 < hi; r0 += kRun) {
      std::fill(run.begin(), run.end(), T(0));
      f(r0, std::min(r0 + kRun, hi), acc);
#pragma omp simd
      for (int64_t i = 0; i < K * C; ++i) tot[i] += acc[i];
    }
  }
  for (int t = 0; t < nt; ++t)
    for (int64_t i = 0; i < K * C; ++i) total[i] += part[static_cast<size_t>(t) * K * C + i];
  return total;
}

/// Runs f(r0, r1) on ranges of the M rows of C values that split them over the
/// threads when worth it (parallel_ranges' rule), else once on all of them.
template <class F> void for_row_ranges(int64_t M, int64_t C, F f) { parallel_ranges(M, M * C, f); }

}  // namespace NABLA_ISA
}  // namespace nabla::kernels
