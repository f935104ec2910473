#include <gtest/gtest.h>

#include "nabla/nabla.h"

using namespace nabla;

namespace {

double quadratic_step(optim::Optimizer& opt, Tensor& w) {
  opt.zero_grad();
  Tensor loss = ((w - 3.0) * (w - 3.0)).sum();
  loss.backward();
  opt.step();
  return loss.item();
}

}  // namespace

TEST(Optimizer, EveryOptimizerMinimizesAQuadratic) {
  std::vector<std::function<std::unique_ptr<optim::Optimizer>(Tensor)>> makers = {
      [](Tensor w) { return std::make_unique<optim::SGD>(std::vector<Tensor>{w}, 0.1, 0.9); },
      [](Tensor w) { return std::make_unique<optim::Adam>(std::vector<Tensor>{w}, 0.1); },
      [](Tensor w) { return std::make_unique<optim::AdamW>(std::vector<Tensor>{w}, 0.1, 0.9, 0.999, 1e-8, 0.0); },
      [](Tensor w) { return std::make_unique<optim::RMSprop>(std::vector<Tensor>{w}, 0.05); },
      [](Tensor w) { return std::make_unique<optim::Adagrad>(std::vector<Tensor>{w}, 0.5); },
  };
  for (auto& make : makers) {
    Tensor w = zeros({4}).requires_grad_();
    auto opt = make(w);
    double first = quadratic_step(*opt, w), last = first;
    for (int i = 0; i < 200; ++i) last = quadratic_step(*opt, w);
    EXPECT_LT(last, first * 1e-2) << opt->name();
  }
}

TEST(Optimizer, StateDictRoundTripContinuesIdentically) {
  Tensor a = zeros({3}).requires_grad_(), b = zeros({3}).requires_grad_();
  optim::Adam oa({a}, 0.1), ob({b}, 0.1);
  for (int i = 0; i < 3; ++i) quadratic_step(oa, a);
  {
    NoGradGuard ng;
    b.copy_(a);
  }
  ob.load_state_dict(oa.state_dict());
  for (int i = 0; i < 3; ++i) {
    quadratic_step(oa, a);
    quadratic_step(ob, b);
  }
  EXPECT_TRUE(allclose(a, b, 0, 0));
  optim::SGD sgd({b}, 0.1);
  EXPECT_THROW(sgd.load_state_dict(oa.state_dict()), Error);  // Adam's state is not SGD's
}

TEST(Optimizer, RejectsBadParameters) {
  Tensor w = zeros({2}).requires_grad_();
  // Listed twice in one group (tied weights): stepped once; in two groups: refused.
  optim::SGD twice({w, w}, 0.1);
  EXPECT_EQ(twice.param_groups()[0].params.size(), 1u);
  w.set_grad(ones({2}));
  twice.step();
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{-0.1f, -0.1f}));
  w.set_grad(Tensor());
  EXPECT_THROW(optim::SGD(std::vector<optim::ParamGroup>{{{w}}, {{w}}}, 0.1), Error);
  EXPECT_THROW(optim::SGD({zeros({2})}, 0.1), Error);              // does not require grad
  EXPECT_THROW(optim::SGD({w}, -1.0), Error);                      // negative lr
  EXPECT_THROW(optim::SGD({w}, 0.1, 0.0, 0.0, 0.0, true), Error);  // Nesterov without momentum
  EXPECT_THROW(optim::Adam({w}, 0.1, 1.5), Error);
}

TEST(Optimizer, NoDecayGroupsAndClipping) {
  nn::Sequential m{std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::BatchNorm1d>(4)};
  auto groups = optim::no_decay_on_bias_and_norm(m, 0.05);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].params.size(), 1u);  // the Linear weight
  EXPECT_EQ(groups[1].params.size(), 3u);  // bias, BN weight, BN bias
  EXPECT_EQ(groups[1].get("weight_decay"), 0.0);

  Tensor p = zeros({2}).requires_grad_(), q = zeros({1}).requires_grad_();
  p.set_grad(from_vector<float>({3, 0}));
  q.set_grad(from_vector<float>({4}));
  double n = optim::clip_grad_norm_({p, q}, 1.0);
  EXPECT_NEAR(n, 5.0, 1e-6);
  EXPECT_NEAR(norm(cat({p.grad(), q.grad()})).item(), 1.0, 1e-5);
  optim::clip_grad_value_({p, q}, 0.5);
  EXPECT_LE(max(q.grad()).item(), 0.5);
}

TEST(Scheduler, StateDictRestoresTheEpoch) {
  Tensor w = zeros({1}).requires_grad_();
  optim::SGD opt({w}, 1.0);
  optim::StepLR s(opt, 2, 0.5);
  for (int i = 0; i < 5; ++i) s.step();
  EXPECT_DOUBLE_EQ(opt.lr(), 0.25);
  optim::SGD opt2({zeros({1}).requires_grad_()}, 1.0);
  optim::StepLR s2(opt2, 2, 0.5);
  s2.load_state_dict(s.state_dict());
  EXPECT_EQ(s2.last_epoch(), 5);
  EXPECT_DOUBLE_EQ(opt2.lr(), 0.25);
}

TEST(ParamGroups, DecayAndLearningRateMultipliers) {
  models::ModelConfig mc;
  mc.input_shape = {1, 8, 8};
  mc.num_classes = 3;
  auto net = models::create("fixup-resnet20", mc);
  auto groups = optim::param_groups(*net, 0.1, 5e-4);
  ASSERT_EQ(groups.size(), 3u);  // weights (decay), fc bias (no decay), scalars (lr / 10, no decay)
  EXPECT_DOUBLE_EQ(groups[0].get("lr"), 0.1);
  EXPECT_DOUBLE_EQ(groups[0].get("weight_decay"), 5e-4);
  EXPECT_DOUBLE_EQ(groups[1].get("weight_decay"), 0.0);
  EXPECT_DOUBLE_EQ(groups[2].get("lr"), 0.01);
  EXPECT_EQ(groups[2].params.size(), 9u * 5 + 2);  // five scalars per block, bias1 and bias2
  size_t total = 0;
  for (auto& g : groups) total += g.params.size();
  EXPECT_EQ(total, net->parameters().size());
  auto all_decay = optim::param_groups(*net, 0.1, 5e-4, true);
  EXPECT_EQ(all_decay.size(), 2u);
  optim::SGD sgd(groups, 0.1, 0.9);
  EXPECT_DOUBLE_EQ(sgd.lr(), 0.1);
}
