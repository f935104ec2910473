#include <gtest/gtest.h>

#include "nabla/nabla.h"

using namespace nabla;

TEST(Allocator, ReusesFreedBlocks) {
  { Tensor warm = empty({1000}); }
  auto before = alloc::stats();
  for (int i = 0; i < 100; ++i) {
    Tensor t = empty({1000});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u);
  }
  auto after = alloc::stats();
  EXPECT_EQ(after.system_allocs, before.system_allocs);
  EXPECT_GE(after.cache_hits, before.cache_hits + 100);
}

// Runs `step` twice to warm up, then ten times more; returns the system
// allocations of those ten and the losses of the first and the last step.
struct SteadyState {
  uint64_t system_allocs, cache_hits;
  double first, last;
};
template <class Step> SteadyState measure_steady_state(Step step) {
  SteadyState r{};
  r.first = step();
  step();
  auto before = alloc::stats();
  for (int i = 0; i < 10; ++i) r.last = step();
  auto after = alloc::stats();
  r.system_allocs = after.system_allocs - before.system_allocs;
  r.cache_hits = after.cache_hits - before.cache_hits;
  return r;
}

// A training step in steady state takes no new memory from the system: after
// two warm-up steps, ten more steps of a two-layer MLP with SGD allocate nothing.
TEST(Allocator, TrainingStepSteadyStateAllocatesNothing) {
  manual_seed(0);
  Tensor x = randn({64, 32});
  Tensor y = randint(0, 10, {64});
  Tensor w1 = (randn({128, 32}) * 0.1).requires_grad_(), b1 = zeros({128}).requires_grad_();
  Tensor w2 = (randn({10, 128}) * 0.1).requires_grad_(), b2 = zeros({10}).requires_grad_();
  std::vector<Tensor> params{w1, b1, w2, b2};
  auto step = [&] {
    Tensor loss = cross_entropy(linear(relu(linear(x, w1, b1)), w2, b2), y);
    for (Tensor& p : params)
      if (p.grad().defined()) p.grad().zero_();
    loss.backward();
    NoGradGuard ng;
    for (Tensor& p : params) p.sub_(p.grad() * 0.1);
    return loss.item();
  };
  SteadyState r = measure_steady_state(step);
  EXPECT_EQ(r.system_allocs, 0u);
  EXPECT_GT(r.cache_hits, 0u);
  EXPECT_LT(r.last, r.first);  // and it learns
  RecordProperty("steady_state_system_allocs_per_step", static_cast<int>(r.system_allocs));
}

TEST(Allocator, EmptyCacheReturnsMemory) {
  { Tensor t = empty({1 << 16}); }
  EXPECT_GT(alloc::stats().bytes_cached, 0u);
  alloc::empty_cache();
  EXPECT_EQ(alloc::stats().bytes_cached, 0u);
}

// The same for a small convolutional net on the oneDNN channels-last path
// (convolution, batch norm, max pooling) trained with Adam.
TEST(Allocator, ConvNetStepSteadyStateAllocatesNothing) {
  manual_seed(1);
  Tensor x = randn({8, 1, 12, 12});
  Tensor y = randint(0, 10, {8});
  nn::Sequential net{std::make_shared<nn::Conv2d>(1, 8, 3),    std::make_shared<nn::BatchNorm2d>(8),
                     std::make_shared<nn::ReLU>(),             std::make_shared<nn::MaxPool2d>(2),
                     std::make_shared<nn::Flatten>(),          std::make_shared<nn::Linear>(8 * 5 * 5, 10)};
  optim::Adam opt(net.parameters(), 1e-2);
  auto step = [&] {
    opt.zero_grad();
    Tensor loss = cross_entropy(net.forward(x), y);
    loss.backward();
    opt.step();
    return loss.item();
  };
  SteadyState r = measure_steady_state(step);
  EXPECT_EQ(r.system_allocs, 0u);
  EXPECT_LT(r.last, r.first);
}
