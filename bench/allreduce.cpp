// All-reduce time by message size between the ranks of an MPI job, blocking and
// non-blocking (one all-reduce split into buckets, all in flight at once): the
// communication cost of a step, to set beside the time backward leaves for it.
//   mpirun -np 2 build/release/bench/nabla_allreduce [--reps N]
// One JSON line per size on rank 0: bytes, seconds per blocking all-reduce (median), GB/s of algorithm bandwidth.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "nabla/dist/process_group.h"
#include "nabla/nabla.h"

using namespace nabla;

int main(int argc, char** argv) {
  int reps = 30;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--reps") == 0) reps = std::max(3, std::atoi(argv[i + 1]));
  dist::init();
  auto w = dist::ProcessGroup::world();
  if (w->size() < 2) {
    std::fprintf(stderr, "nabla_allreduce: run under mpirun -np 2 (or more)\n");
    return 2;
  }
  for (double mb : {0.004, 0.0625, 0.25, 1.0, 4.0, 16.0}) {
    int64_t n = std::max<int64_t>(1, static_cast<int64_t>(mb * 1024 * 1024 / 4));
    Tensor t = ones({n});
    std::vector<double> secs;
    for (int r = 0; r < reps + 2; ++r) {
      w->barrier();
      auto t0 = std::chrono::steady_clock::now();
      w->all_reduce_sum(t);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r >= 2) secs.push_back(s);  // the first calls set up the shared-memory channels
    }
    std::sort(secs.begin(), secs.end());
    double med = secs[secs.size() / 2];
    // The same bytes as 0.25 MiB buckets, all started, then tested until done (what the reducer does, minus backward).
    int64_t bucket = std::min<int64_t>(n, 65536);
    std::vector<double> bsecs;
    for (int r = 0; r < reps + 2; ++r) {
      w->barrier();
      auto t0 = std::chrono::steady_clock::now();
      std::vector<dist::Request> reqs;
      for (int64_t lo = 0; lo < n; lo += bucket)
        reqs.push_back(w->all_reduce_sum_async(t.data<float>() + lo, std::min(bucket, n - lo), DType::f32));
      for (auto& q : reqs) q.wait();
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r >= 2) bsecs.push_back(s);
    }
    std::sort(bsecs.begin(), bsecs.end());
    if (w->rank() == 0)
      std::printf("{\"ranks\":%d,\"bytes\":%lld,\"allreduce_s\":%.3g,\"gb_per_s\":%.3g,\"bucketed_0.25mb_s\":%.3g}\n",
                  w->size(), (long long)(n * 4), med, n * 4 / med / 1e9, bsecs[bsecs.size() / 2]);
  }
  return 0;
}
