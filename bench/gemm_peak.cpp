// sgemm GFLOP/s of the BLAS nabla links (OpenBLAS, OpenMP build) for square
// n x n x n products, against the theoretical peak given on the command line
// (default 234 GFLOP/s: 2 Zen 4 cores x 32 FLOP/cycle x 3.66 GHz, see
// ../shared/peer/BASELINES.md). Usage: gemm_peak [peak_gflops]
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  double peak = argc > 1 ? std::atof(argv[1]) : 234.0;
  std::printf("BLAS: %s\n", openblas_get_config());
  for (int n : {256, 512, 1024, 2048}) {
    std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
    auto run = [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    };
    run();
    std::vector<double> rates;
    auto start = std::chrono::steady_clock::now();
    while (rates.size() < 5 || std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500)) {
      auto t0 = std::chrono::steady_clock::now();
      run();
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rates.push_back(2.0 * n * n * n / s / 1e9);
    }
    std::sort(rates.begin(), rates.end());
    double med = rates[rates.size() / 2];
    std::printf("n=%4d: %6.1f GFLOP/s (%4.1f%% of %.0f)\n", n, med, 100 * med / peak, peak);
  }
  return 0;
}
