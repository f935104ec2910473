// Throughput of the ROCKET and MiniRocket transforms: series per second for
// random univariate series, one JSON line per (transform, threads). The
// workload of bench/rocket_numba.py, which runs it beside a Numba implementation.
//   build/release/bench/nabla_rocket [--series N] [--length L] [--kernels K] [--threads 1,2]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "nabla/models/rocket.h"
#include "nabla/nabla.h"

namespace {

using namespace nabla;

template <class F> double best_seconds(F f, int repeats) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t series = 200, length = 500, kernels = 10000;
  std::vector<int> threads{1, 2};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--series") == 0) series = std::atoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--length") == 0) length = std::atoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--kernels") == 0) kernels = std::atoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--threads") == 0) {
      threads.clear();
      std::stringstream ss(argv[i + 1]);
      for (std::string part; std::getline(ss, part, ',');) threads.push_back(std::stoi(part));
    }
  }
  Generator g(0);
  Tensor x = randn({series, 1, length}, DType::f32, &g);
  models::Rocket rocket(1, length, 2, {.num_kernels = kernels, .seed = 1});
  models::MiniRocket mini(1, length, 2, {.num_kernels = kernels, .seed = 1});
  mini.fit(x);
  for (int t : threads) {
    set_num_threads(t);
    rocket.transform(x.slice(0, 0, 2));  // first-touch of the pool
    const double s_r = best_seconds([&] { rocket.transform(x); }, 3);
    const double s_m = best_seconds([&] { mini.transform(x); }, 3);
    std::printf("{\"impl\":\"nabla\",\"transform\":\"rocket\",\"threads\":%d,\"series\":%lld,\"length\":%lld,"
                "\"kernels\":%lld,\"seconds\":%.4f,\"series_per_s\":%.1f}\n",
                t, (long long)series, (long long)length, (long long)kernels, s_r, double(series) / s_r);
    std::printf("{\"impl\":\"nabla\",\"transform\":\"minirocket\",\"threads\":%d,\"series\":%lld,\"length\":%lld,"
                "\"features\":%lld,\"seconds\":%.4f,\"series_per_s\":%.1f}\n",
                t, (long long)series, (long long)length, (long long)mini.num_features(), s_m, double(series) / s_m);
    std::fflush(stdout);
  }
}
