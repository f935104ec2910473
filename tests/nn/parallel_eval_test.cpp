// One model evaluated from several threads at once (eval mode, no grad) gives
// what serial evaluation gives: the kernels' caches (oneDNN primitives and
// reordered weights, dense panels, GEMM choices) and the random generator are
// safe to share.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "nabla/nabla.h"

namespace {

using namespace nabla;

void expect_same_under_threads(const std::string& model, const Shape& input) {
  models::ModelConfig mc;
  mc.input_shape = Shape(input.begin() + 1, input.end());
  mc.num_classes = 10;
  manual_seed(3);
  nn::ModulePtr m = models::create(model, mc);
  m->eval();
  std::vector<Tensor> xs;
  for (int i = 0; i < 8; ++i) xs.push_back(randn(input));
  std::vector<Tensor> serial;
  {
    NoGradGuard ng;
    for (const Tensor& x : xs) serial.push_back(m->forward(x));
  }
  for (int round = 0; round < 3; ++round) {
    std::vector<Tensor> par(xs.size());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        NoGradGuard ng;
        for (size_t i = static_cast<size_t>(t); i < xs.size(); i += 4) par[i] = m->forward(xs[i]);
      });
    for (std::thread& th : threads) th.join();
    for (size_t i = 0; i < xs.size(); ++i) {
      ASSERT_EQ(par[i].sizes(), serial[i].sizes());
      EXPECT_LT(max(abs(sub(par[i], serial[i]))).item(), 1e-5) << model << " input " << i << " round " << round;
    }
  }
}

TEST(ParallelEval, LeNetFromFourThreadsMatchesSerial) { expect_same_under_threads("lenet", {2, 1, 28, 28}); }
TEST(ParallelEval, MlpBatchOneFromFourThreadsMatchesSerial) { expect_same_under_threads("mlp", {1, 1, 28, 28}); }
TEST(ParallelEval, ResNetFromFourThreadsMatchesSerial) { expect_same_under_threads("resnet20", {2, 1, 28, 28}); }

TEST(ParallelEval, DefaultGeneratorGivesWholeDrawsToEachThread) {
  // Four threads drawing from the shared default generator get four disjoint
  // runs of its stream: together, exactly the values one thread would draw.
  manual_seed(11);
  std::vector<double> want = randn({4 * 1000}, DType::f64).to_vector<double>();
  manual_seed(11);
  std::vector<std::vector<double>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] { got[t] = randn({1000}, DType::f64).to_vector<double>(); });
  for (std::thread& th : threads) th.join();
  std::vector<double> all;
  for (auto& g : got) all.insert(all.end(), g.begin(), g.end());
  std::sort(all.begin(), all.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(all, want);
}

}  // namespace
