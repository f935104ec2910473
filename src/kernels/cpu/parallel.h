#pragma once
// One way to split independent items (rows, channels, planes) over the thread pool.
#include <omp.h>

#include <cstdint>

#include "kernels/cpu/strided_loop.h"

namespace nabla::kernels {

/// Runs f(i) for i in [0, n): on all threads when the total work (n times
/// `work_per_item` elements) is worth waking them for, else on this one.
template <class F> void parallel_for(int64_t n, int64_t work_per_item, F f) {
  if (n > 1 && n * work_per_item >= kParallelGrain && omp_get_max_threads() > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) f(i);
  } else {
    for (int64_t i = 0; i < n; ++i) f(i);
  }
}

}  // namespace nabla::kernels
