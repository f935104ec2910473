// bf16 matrix products and convolutions on oneDNN's bf16 kernels against the
// conversion path (bf16 -> f32, sgemm / f32 convolution, rounded back) and
// against f32 itself: GFLOP/s of the forward op, median of repetitions. On a CPU
// without AVX512_BF16 the "native" column repeats the conversion path.
//   build/release/bench/nabla_bf16 [--reps N]
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cpu/dnnl_runtime.h"
#include "nabla/nabla.h"

namespace {

using namespace nabla;

double median_seconds(const std::function<void()>& f, int reps) {
  f();  // primitives built, buffers allocated
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto s = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// GFLOP/s of op in f32, and on its bf16 operands with oneDNN's kernels and with the conversion.
void row(const std::string& name, double flops, int reps, const std::function<void(bool)>& op) {
  const double f32 = median_seconds([&] { op(false); }, reps);
  kernels::set_native_bf16(true);
  const bool native = kernels::native_bf16();
  const double nat = median_seconds([&] { op(true); }, reps);
  kernels::set_native_bf16(false);
  const double conv = median_seconds([&] { op(true); }, reps);
  kernels::set_native_bf16(std::nullopt);
  std::printf("| %s | %.0f | %.0f%s | %.0f |\n", name.c_str(), flops / f32 * 1e-9, flops / nat * 1e-9,
              native ? "" : " (no bf16 kernels here)", flops / conv * 1e-9);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 11;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--reps") == 0) reps = std::max(1, std::atoi(argv[i + 1]));
  std::printf("threads %d, kernels %s\n\n| op | f32 GFLOP/s | bf16, oneDNN's kernels | bf16, converted |\n|---|---|---|---|\n",
              get_num_threads(), cpu_isa());
  for (auto [M, K, N] : std::vector<std::array<int64_t, 3>>{{128, 784, 1024}, {512, 512, 512}, {1024, 1024, 1024},
                                                              {2048, 2048, 2048}}) {
    const Tensor a = randn({M, K}), b = randn({K, N}), ab = a.to(DType::bf16), bb = b.to(DType::bf16);
    row(fmt::format("mm {}x{} · {}x{}", M, K, K, N), 2.0 * M * N * K, M >= 2048 ? std::max(3, reps / 3) : reps,
        [&](bool bf16) { bf16 ? mm(ab, bb) : mm(a, b); });
  }
  for (auto [N, C, H, O] : std::vector<std::array<int64_t, 4>>{{128, 16, 32, 32}, {128, 64, 16, 64}, {32, 128, 28, 128}}) {
    const Tensor x = randn({N, C, H, H}), w = randn({O, C, 3, 3}), xb = x.to(DType::bf16), wb = w.to(DType::bf16);
    row(fmt::format("conv 3x3, N{} C{} {}x{} O{}", N, C, H, H, O), 2.0 * N * O * H * H * C * 9, reps,
        [&](bool bf16) { bf16 ? conv2d(xb, wb, Tensor(), 1, 1) : conv2d(x, w, Tensor(), 1, 1); });
  }
  return 0;
}
