// Micro-benchmarks of the hot kernels (Google Benchmark), with GFLOP/s or GB/s
// counters: GEMM, convolution forward/backward, elementwise, softmax + cross
// entropy, batch norm, max pooling, minGRU's scan. Run: build/release/bench/nabla_micro
#include <benchmark/benchmark.h>

#include <cmath>
#include <limits>

#include "nabla/nabla.h"

using namespace nabla;

namespace {

void flops(benchmark::State& st, double per_iter) {
  st.counters["GFLOP/s"] = benchmark::Counter(per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
void bytes(benchmark::State& st, double per_iter) {
  st.counters["GB/s"] = benchmark::Counter(per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Matmul(benchmark::State& st) {
  int64_t n = st.range(0);
  Tensor a = randn({n, n}), b = randn({n, n});
  NoGradGuard ng;
  for (auto _ : st) benchmark::DoNotOptimize(matmul(a, b));
  flops(st, 2.0 * n * n * n);
}
BENCHMARK(BM_Matmul)->Arg(128)->Arg(256)->Arg(512)->Arg(1024)->UseRealTime();

// The MLP workload's layers: x[128, in] W^T, forward and backward.
void BM_LinearTrain(benchmark::State& st) {
  int64_t in = st.range(0), out = st.range(1), batch = 128;
  Tensor x = randn({batch, in}), w = (randn({out, in}) * 0.01).requires_grad_(), b = zeros({out}).requires_grad_();
  for (auto _ : st) {
    Tensor y = linear(x, w, b);
    y.backward(ones_like(y));
  }
  flops(st, 2.0 * batch * in * out * 2);  // forward + weight gradient (x needs none)
}
BENCHMARK(BM_LinearTrain)->Args({784, 512})->Args({512, 256})->UseRealTime();

void BM_Conv2dTrain(benchmark::State& st) {
  int64_t c = st.range(0), hw = st.range(1), o = st.range(2), k = st.range(3), batch = 128;
  Tensor x = randn({batch, c, hw, hw}).requires_grad_(), w = (randn({o, c, k, k}) * 0.1).requires_grad_();
  int64_t pad = k / 2;
  for (auto _ : st) {
    Tensor y = conv2d(x, w, Tensor(), 1, pad);
    y.backward(ones_like(y));
  }
  flops(st, 3.0 * 2.0 * batch * o * c * k * k * hw * hw);  // forward, data and weight gradients
}
BENCHMARK(BM_Conv2dTrain)->Args({16, 32, 16, 3})->Args({64, 8, 64, 3})->Args({32, 12, 64, 5})->UseRealTime();

void BM_Relu(benchmark::State& st) {
  Tensor x = randn({st.range(0)});
  NoGradGuard ng;
  for (auto _ : st) benchmark::DoNotOptimize(relu(x));
  bytes(st, 8.0 * st.range(0));
}
BENCHMARK(BM_Relu)->Arg(1 << 16)->Arg(1 << 20)->Arg(1 << 24)->UseRealTime();

void BM_Add(benchmark::State& st) {
  Tensor a = randn({st.range(0)}), b = randn({st.range(0)});
  NoGradGuard ng;
  for (auto _ : st) benchmark::DoNotOptimize(add(a, b));
  bytes(st, 12.0 * st.range(0));
}
BENCHMARK(BM_Add)->Arg(1 << 16)->Arg(1 << 20)->Arg(1 << 24)->UseRealTime();

void BM_SoftmaxCrossEntropy(benchmark::State& st) {
  int64_t n = st.range(0), k = st.range(1);
  Tensor logits = randn({n, k}).requires_grad_(), y = randint(0, k, {n});
  for (auto _ : st) cross_entropy(logits, y).backward();
  bytes(st, 4.0 * n * k * 4);
}
BENCHMARK(BM_SoftmaxCrossEntropy)->Args({128, 10})->Args({4096, 96})->UseRealTime();

void BM_BatchNormTrain(benchmark::State& st) {
  int64_t c = st.range(0), hw = st.range(1), batch = 128;
  Tensor x = randn({batch, c, hw, hw}).requires_grad_(), w = ones({c}).requires_grad_(),
         b = zeros({c}).requires_grad_();
  for (auto _ : st) {
    Tensor y = batch_norm(x, Tensor(), Tensor(), w, b, true);
    y.backward(ones_like(y));
  }
  bytes(st, 4.0 * batch * c * hw * hw * 5);  // read x twice, write y; read g and x, write dx
}
BENCHMARK(BM_BatchNormTrain)->Args({16, 32})->Args({64, 8})->UseRealTime();

void BM_MaxPool(benchmark::State& st) {
  Tensor x = randn({128, st.range(0), st.range(1), st.range(1)});
  NoGradGuard ng;
  for (auto _ : st) benchmark::DoNotOptimize(max_pool2d(x, 2));
  bytes(st, 4.0 * x.numel() * 1.75);  // read x, write values and i64 indices
}
BENCHMARK(BM_MaxPool)->Args({32, 24})->Args({64, 8})->UseRealTime();

// minGRU's recurrence h_t = a_t h_{t-1} + b_t over T steps (batch 8, hidden 256),
// forward and backward, three ways (arg `mode`): 0 a loop over t of tensor ops,
// as a user would write it (each step's slice is its own graph node); 1 the
// paper's log-space parallel scan from cumsum and logcumsumexp; 2 the fused
// linear_scan op that MinGRU uses on CPU (every lane's steps in one pass).
void BM_MinGRUScan(benchmark::State& st) {
  int64_t T = st.range(0), B = 8, H = 256, mode = st.range(1);
  Tensor k = randn({B, T, 2 * H}).requires_grad_();
  for (auto _ : st) {
    Tensor h;
    Tensor log_z = neg(softplus(neg(k.narrow(2, 0, H)))), log_a = neg(softplus(k.narrow(2, 0, H)));
    Tensor log_b = add(log_z, log(add(relu(k.narrow(2, H, H)), 0.5)));
    if (mode == 0) {
      h = nn::sequential_scan(exp(log_a), exp(log_b), zeros({B, H}));
    } else if (mode == 1) {
      h = nn::log_space_scan(log_a, log_b, full({B, H}, -std::numeric_limits<double>::infinity()));
    } else {
      h = linear_scan(log_a, log_b, zeros({B, H}));
    }
    sum(h).backward();
  }
  st.counters["steps/s"] = benchmark::Counter(double(T), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MinGRUScan)
    ->ArgsProduct({{64, 512, 4096}, {0, 1, 2}})
    ->ArgNames({"T", "mode"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
