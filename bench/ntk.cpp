// The empirical NTK of a ReLU MLP in NTK parametrization against its
// closed-form infinite-width kernel: the relative Frobenius error per width
// (mean and spread over seeds), one JSON line per width, for `nabla plot
// --x width --y rel_error --log-x`.
//   build/release/bench/nabla_ntk [--widths 64,128,...] [--points N] [--depth L] [--seeds S]
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "nabla/nabla.h"
#include "nabla/train/ntk.h"

using namespace nabla;

int main(int argc, char** argv) {
  std::vector<int64_t> widths{32, 64, 128, 256, 512, 1024, 2048};
  int64_t points = 20, depth = 2, seeds = 3, dim = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--points") == 0) points = std::atoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--depth") == 0) depth = std::atoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--seeds") == 0) seeds = std::atoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--widths") == 0) {
      widths.clear();
      std::stringstream ss(argv[i + 1]);
      for (std::string part; std::getline(ss, part, ',');) widths.push_back(std::stoll(part));
    }
  }
  Generator g(0);
  Tensor x = randn({points, dim}, DType::f64, &g);
  x = x / sqrt(sum(square(x), {1}, true)) * std::sqrt(double(dim));  // points on the sphere of radius sqrt(d)
  const Tensor exact = train::relu_mlp_kernels(x, x, depth, 2.0, 0.1).ntk;
  const double exact_norm = std::sqrt(sum(square(exact)).item());
  for (int64_t w : widths) {
    std::vector<double> errs;
    for (int64_t s = 0; s < seeds; ++s) {
      manual_seed(uint64_t(s + 1));
      train::NtkMlp net(dim, w, depth, 1, 2.0, 0.1);
      net.to(DType::f64);
      Tensor K = train::empirical_ntk(net, x);
      errs.push_back(std::sqrt(sum(square(K - exact)).item()) / exact_norm);
    }
    double m = 0, v = 0;
    for (double e : errs) m += e / double(errs.size());
    for (double e : errs) v += (e - m) * (e - m) / double(errs.size());
    std::printf("{\"width\":%lld,\"depth\":%lld,\"points\":%lld,\"seeds\":%lld,\"rel_error\":%.5f,\"rel_error_std\":%.5f}\n",
                (long long)w, (long long)depth, (long long)points, (long long)seeds, m, std::sqrt(v));
    std::fflush(stdout);
  }
}
