#pragma once
// One way to split independent work over the thread pool, with one grain rule:
// a loop goes parallel when its total work (elements touched) reaches
// kParallelGrain and more than one thread is configured.
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/isa_namespace.h"
#include "kernels/cpu/strided_loop.h"

namespace nabla::kernels {
inline namespace NABLA_ISA {

/// Whether `work` elements of work are worth waking the pool for.
inline bool worth_parallel(int64_t work) { return work >= kParallelGrain && omp_get_max_threads() > 1; }

/// Runs f(i) for i in [0, n): on all threads when the total work (n times
/// `work_per_item` elements) is worth waking them for, else on this one.
template <class F> void parallel_for(int64_t n, int64_t work_per_item, F f) {
  if (n > 1 && worth_parallel(n * work_per_item)) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) f(i);
  } else {
    for (int64_t i = 0; i < n; ++i) f(i);
  }
}

/// Runs f(lo, hi) on one contiguous range of [0, n) per thread (ranges split
/// by index, so the same n and thread count always give the same ranges) when
/// the total work (`work` elements) is worth the pool, else f(0, n) on this thread.
template <class F> void parallel_ranges(int64_t n, int64_t work, F f) {
  if (n <= 0) return;
  if (n == 1 || !worth_parallel(work)) {
    f(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int t = omp_get_thread_num(), k = omp_get_num_threads();
    const int64_t lo = n * t / k, hi = n * (t + 1) / k;
    if (hi > lo) f(lo, hi);
  }
}

/// The thread slots parallel_items uses for n items: every thread when there
/// is an item for each, else 1. (Items here are whole images of a convolution:
/// far above the grain, so the only question is whether each thread gets one.)
inline int item_slots(int64_t n) {
  const int nt = omp_get_max_threads();
  return n >= nt && nt > 1 ? nt : 1;
}

/// Runs f(i, slot) for i in [0, n), slot < item_slots(n) naming the running
/// thread's scratch.
template <class F> void parallel_items(int64_t n, F f) {
  if (item_slots(n) > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) f(i, omp_get_thread_num());
  } else {
    for (int64_t i = 0; i < n; ++i) f(i, 0);
  }
}

/// For data seen as [outer, steps, inner] whose inner lanes are independent:
/// runs f(b, k0, k1) on lanes k0..k1 of block b, the outer * inner lanes split
/// over the threads as parallel_ranges splits them (a range is cut at the
/// blocks' edges); `work` is the total work.
template <class F> void parallel_lane_ranges(int64_t outer, int64_t inner, int64_t work, F f) {
  parallel_ranges(outer * inner, work, [&](int64_t q0, int64_t q1) {
    while (q0 < q1) {
      const int64_t b = q0 / inner, k0 = q0 % inner, k1 = std::min(inner, k0 + (q1 - q0));
      f(b, k0, k1);
      q0 += k1 - k0;
    }
  });
}

/// parallel_for for items of unequal cost (causal attention's query blocks):
/// threads take the next item as they finish one.
template <class F> void parallel_for_uneven(int64_t n, int64_t work, F f) {
  if (n > 1 && worth_parallel(work)) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < n; ++i) f(i);
  } else {
    for (int64_t i = 0; i < n; ++i) f(i);
  }
}

/// parallel_ranges over n elements, one unit of work each.
template <class F> void parallel_chunks(int64_t n, F f) { parallel_ranges(n, n, f); }

}  // namespace NABLA_ISA
}  // namespace nabla::kernels
