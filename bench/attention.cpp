// The fused attention kernel against its plain composition (matmul, mask,
// softmax, matmul), forward + backward, causal, batch 1, 8 heads of 64: median
// time and peak memory per sequence length, as JSON lines and a table.
// Run: build/release/bench/nabla_attention [--lengths 512,1024,4096] [--reps 5] [--threads N]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "nabla/nabla.h"

using namespace nabla;

namespace {

struct Measure {
  double ms;
  double peak_mb;
};

Measure run(bool fused, int64_t T, int reps) {
  Generator gen(1);
  const Shape s{1, 8, T, 64};
  Tensor q = randn(s, DType::f32, &gen).requires_grad_(), k = randn(s, DType::f32, &gen).requires_grad_();
  Tensor v = randn(s, DType::f32, &gen).requires_grad_(), g = randn(s, DType::f32, &gen);
  std::vector<double> times;
  double peak = 0;
  for (int r = 0; r < reps + 1; ++r) {  // the first is a warm-up
    q.set_grad(Tensor()), k.set_grad(Tensor()), v.set_grad(Tensor());
    const uint64_t base = alloc::stats().bytes_in_use;
    alloc::reset_peak();
    auto t0 = std::chrono::steady_clock::now();
    Tensor out = fused ? scaled_dot_product_attention(q, k, v, {}, 0.0, true)
                       : scaled_dot_product_attention_math(q, k, v, {}, 0.0, true);
    out.backward(g);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) times.push_back(ms);
    peak = std::max(peak, double(alloc::stats().peak_bytes_in_use - base) / 1e6);
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], peak};
}

std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stoll(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> lengths{512, 1024, 4096};
  int reps = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--lengths") lengths = parse_list(v);
    else if (a == "--reps") reps = std::stoi(v);
    else if (a == "--threads") set_num_threads(std::stoi(v));
    else {
      std::fprintf(stderr, "unknown option %s (--lengths, --reps, --threads)\n", a.c_str());
      return 2;
    }
  }
  std::printf("| T | fused ms | composition ms | speed-up | fused peak MB | composition peak MB |\n|---|---|---|---|---|---|\n");
  for (int64_t T : lengths) {
    Measure f = run(true, T, reps), m = run(false, T, reps);
    std::fprintf(stderr, "{\"T\": %lld, \"threads\": %d, \"fused_ms\": %.2f, \"math_ms\": %.2f, \"fused_peak_mb\": %.1f, "
                 "\"math_peak_mb\": %.1f}\n", static_cast<long long>(T), omp_get_max_threads(), f.ms, m.ms, f.peak_mb,
                 m.peak_mb);
    std::printf("| %lld | %.1f | %.1f | %.2fx | %.1f | %.1f |\n", static_cast<long long>(T), f.ms, m.ms, m.ms / f.ms,
                f.peak_mb, m.peak_mb);
  }
  return 0;
}
