// The single-process parts of data parallelism: the sampler's shards, per-example augmentation seeds, gradient
// accumulation, the gradient reducer and sync batch norm on a group of one. tests/dist/ runs them across ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "nabla/data/loader.h"
#include "nabla/dist/process_group.h"
#include "nabla/dist/reducer.h"
#include "nabla/dist/sampler.h"
#include "nabla/dist/sync_batch_norm.h"
#include "nabla/nabla.h"
#include "support/expect_close.h"
#include "train/toy.h"

using namespace nabla;

TEST(DistributedSampler, RanksTogetherReadTheLargeBatch) {
  for (int64_t N : {0, 1, 7, 64, 100, 101}) {
    for (int W : {1, 2, 3, 4}) {
      for (int64_t B : {1, 5, 16}) {
        dist::DistributedSampler one(N, B * W, 0, 1, true, 42);
        std::vector<dist::DistributedSampler> ranks;
        for (int r = 0; r < W; ++r) ranks.emplace_back(N, B, r, W, true, 42);
        for (int64_t epoch : {0, 3}) {
          one.set_epoch(epoch);
          for (auto& s : ranks) s.set_epoch(epoch);
          int64_t steps = ranks[0].num_steps();
          for (auto& s : ranks) ASSERT_EQ(s.num_steps(), steps);
          // Every step but a last one smaller than W is the single process's step.
          int64_t skipped = one.num_steps() - steps;
          ASSERT_GE(skipped, 0);
          ASSERT_LE(skipped, 1);
          if (skipped) {
            EXPECT_LT(one.global_batch(one.num_steps() - 1), W);
          }
          for (int64_t k = 0; k < steps; ++k) {
            std::vector<int64_t> want = one.indices(k), got(want.size(), -1);
            int64_t total = 0;
            for (int r = 0; r < W; ++r) {
              std::vector<int64_t> mine = ranks[r].indices(k);
              EXPECT_GE(mine.size(), 1u);
              EXPECT_LE(static_cast<int64_t>(mine.size()), B);
              EXPECT_EQ(ranks[r].global_batch(k), one.global_batch(k));
              // Rank r holds positions r, r + W, ... of the large batch.
              for (size_t j = 0; j < mine.size(); ++j) got[static_cast<size_t>(r) + j * W] = mine[j];
              total += static_cast<int64_t>(mine.size());
            }
            EXPECT_EQ(total, static_cast<int64_t>(want.size()));
            EXPECT_EQ(got, want) << "N " << N << " W " << W << " B " << B << " step " << k;
          }
        }
      }
    }
  }
}

TEST(DistributedSampler, ShuffleFollowsTheEpochAndRefusesBadArguments) {
  dist::DistributedSampler s(50, 10, 0, 1, true, 7);
  std::vector<int64_t> e0 = s.indices(0);
  s.set_epoch(1);
  EXPECT_NE(s.indices(0), e0);
  s.set_epoch(0);
  EXPECT_EQ(s.indices(0), e0);
  dist::DistributedSampler plain(5, 2, 1, 2, false);
  EXPECT_EQ(plain.indices(0), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(plain.num_steps(), 1);  // the last position alone (fewer than 2 ranks' worth) is skipped
  dist::DistributedSampler kept(5, 2, 0, 1, false);
  EXPECT_EQ(kept.num_steps(), 3);  // one process keeps its short last batch
  EXPECT_THROW(dist::DistributedSampler(5, 0, 0, 1), Error);
  EXPECT_THROW(dist::DistributedSampler(5, 2, 2, 2), Error);
  EXPECT_THROW(dist::DistributedSampler(-1, 2, 0, 1), Error);
  EXPECT_THROW(plain.indices(1), Error);
}

namespace {

// Each example's augmented image, by its index in the data set, over one epoch of `loader`.
std::map<int64_t, std::vector<float>> augmented(data::DataLoader& loader, int64_t epoch) {
  std::map<int64_t, std::vector<float>> out;
  loader.start_epoch(epoch);
  while (auto b = loader.next()) {
    EXPECT_EQ(static_cast<int64_t>(b->indices.size()), b->size());
    for (int64_t i = 0; i < b->size(); ++i) out[b->indices[static_cast<size_t>(i)]] = b->input.narrow(0, i, 1).contiguous().template to_vector<float>();
  }
  return out;
}

}  // namespace

TEST(DataLoader, AnExampleIsAugmentedTheSameInWhicheverBatchOrRank) {
  Generator g(3);
  auto ds = std::make_shared<data::TensorDataset>(rand({24, 2, 8, 8}, DType::f32, &g), zeros({24}, DType::i64));
  data::Preprocess pre;
  pre.normalize = "none";
  pre.crop_padding = 2;
  pre.hflip = true;
  pre.erasing = 0.5;
  data::LoaderOptions big;
  big.batch_size = 8;
  big.shuffle = true;
  big.seed = 11;
  data::DataLoader one(ds, big, pre.train_transform());
  auto want = augmented(one, 2);
  ASSERT_EQ(want.size(), 24u);
  std::map<int64_t, std::vector<float>> got;
  for (int r = 0; r < 2; ++r) {
    data::LoaderOptions o = big;
    o.batch_size = 3;  // another batching too
    o.rank = r;
    o.world_size = 2;
    data::DataLoader part(ds, o, pre.train_transform());
    for (auto& [i, img] : augmented(part, 2)) got[i] = img;
  }
  EXPECT_EQ(got, want);
  // Another epoch draws other augmentations; the plain images are the same.
  auto other = augmented(one, 3);
  int differ = 0;
  for (auto& [i, img] : other) differ += img != want[i];
  EXPECT_GT(differ, 12);
}

TEST(Trainer, AccumulatingTwoMicroBatchesEqualsTheLargeBatch) {
  data::Splits d = nabla::testing::toy_data(384, 5);
  auto run = [&](int64_t batch, int64_t accumulate) {
    manual_seed(1);
    models::ModelConfig mc;
    nn::ModulePtr m = nabla::testing::toy_model(&mc);
    train::TrainConfig c = nabla::testing::toy_config();
    c.epochs = 2;
    c.batch_size = batch;
    c.accumulate = accumulate;
    c.sched = "onecycle";  // per-step: counts optimizer steps, not micro-batches
    train::Trainer t(c, m, mc, d);
    auto h = t.fit();
    return std::make_pair(m->state_dict(), t.step());
  };
  auto [large, steps_large] = run(32, 1);
  auto [micro, steps_micro] = run(16, 2);
  EXPECT_EQ(steps_micro, steps_large);
  EXPECT_EQ(steps_large, 2 * 9);  // 288 training examples: 9 steps of 32 (the last one 0) per epoch
  for (const auto& [name, t] : large) nabla::testing::expect_close(micro.at(name), t, 1e-5, name);
  // A last step with fewer micro-batches than --accumulate (and a short one) weighs its examples right too.
  auto [odd_large, s1] = run(60, 1);
  auto [odd_micro, s2] = run(20, 3);
  EXPECT_EQ(s1, s2);
  for (const auto& [name, t] : odd_large) nabla::testing::expect_close(odd_micro.at(name), t, 1e-5, name);
}

TEST(GradientReducer, OnOneRankBucketsInBackwardOrderAndKeepsTheGradients) {
  manual_seed(2);
  auto net = std::make_shared<nn::Sequential>(nn::Linear(20, 30), nn::ReLU(), nn::Linear(30, 10));
  std::vector<Tensor> params = net->parameters();  // w0 [30,20], b0, w1 [10,30], b1
  // 2,400 bytes: the first layer's weight (600 floats) fills one; the second's (1,200 bytes), its bias and the
  // first's bias (120) share the other.
  dist::GradientReducer red(params, dist::ProcessGroup::self(), 2400.0 / (1024 * 1024));
  std::vector<std::vector<int64_t>> b = red.bucket_params();
  ASSERT_EQ(b, (std::vector<std::vector<int64_t>>{{3, 2, 1}, {0}}));
  Tensor x = randn({5, 20});
  for (int step = 0; step < 2; ++step) {
    for (auto& p : params) p.set_grad(Tensor());
    red.begin_backward();
    sum(square((*net)(x))).backward();
    std::vector<Tensor> before;
    for (auto& p : params) before.push_back(p.grad().clone());
    red.finish();
    for (size_t i = 0; i < params.size(); ++i) nabla::testing::expect_close(params[i].grad(), before[i], 0, "grad");
  }
  EXPECT_EQ(red.timings().size(), 2u);
  EXPECT_EQ(red.timings()[0].buckets.size(), b.size());
  EXPECT_EQ(red.timings()[1].buckets.size(), red.bucket_params().size());
  // After the first step the buckets follow the order the gradients arrived in (the last layer's first).
  std::vector<std::vector<int64_t>> after = red.bucket_params();
  std::set<int64_t> all;
  for (auto& v : after) all.insert(v.begin(), v.end());
  EXPECT_EQ(all, (std::set<int64_t>{0, 1, 2, 3}));
  EXPECT_TRUE(after.front()[0] == 3 || after.front()[0] == 2);
  // Without sync the hooks stay out of the way and finish() leaves the gradients alone.
  red.set_sync(false);
  for (auto& p : params) p.set_grad(Tensor());
  sum((*net)(x)).backward();
  Tensor g = params[0].grad().clone();
  red.finish();
  nabla::testing::expect_close(params[0].grad(), g, 0, "unsynced");
  EXPECT_THROW(dist::GradientReducer(params, dist::ProcessGroup::self(), 0.0), Error);
  EXPECT_THROW(dist::GradientReducer({ones({2}, DType::bf16).requires_grad_()}, dist::ProcessGroup::self()), Error);
}

TEST(SyncBatchNorm, OnOneRankIsBatchNormAndKeepsTheStateDict) {
  Generator g(4);
  Tensor x = randn({6, 3, 4, 4}, DType::f64, &g).requires_grad_();
  Tensor w = randn({3}, DType::f64, &g).requires_grad_(), b = randn({3}, DType::f64, &g).requires_grad_();
  Tensor rm1 = zeros({3}, DType::f64), rv1 = ones({3}, DType::f64), rm2 = rm1.clone(), rv2 = rv1.clone();
  Tensor want = batch_norm(x, rm1, rv1, w, b, true, 0.1, 1e-5);
  Tensor got = dist::sync_batch_norm(x, rm2, rv2, w, b, 0.1, 1e-5, dist::ProcessGroup::self());
  nabla::testing::expect_close(got, want, 1e-12, "forward");
  nabla::testing::expect_close(rm2, rm1, 1e-12, "running mean");
  nabla::testing::expect_close(rv2, rv1, 1e-12, "running var");
  Tensor y = randn({6, 3, 4, 4}, DType::f64, &g);
  auto gw = autograd::grad({sum(mul(want, y))}, {x, w, b});
  auto gg = autograd::grad({sum(mul(got, y))}, {x, w, b});
  for (size_t i = 0; i < gw.size(); ++i) nabla::testing::expect_close(gg[i], gw[i], 1e-12, "gradient");

  models::ModelConfig mc;
  mc.input_shape = {1, 28, 28};
  mc.num_classes = 10;
  nn::ModulePtr net = models::create("resnet20", mc);
  auto names = net->state_dict();
  EXPECT_EQ(dist::convert_sync_batchnorm(*net, dist::ProcessGroup::self()), 21);  // 19 + 2 shortcut norms
  auto after = net->state_dict();
  ASSERT_EQ(after.size(), names.size());
  for (const auto& [k, v] : names) EXPECT_TRUE(after.count(k)) << k;
  EXPECT_EQ(dist::convert_sync_batchnorm(*net, dist::ProcessGroup::self()), 0);  // already converted
  Tensor out = (*net)(randn({2, 1, 28, 28}));
  EXPECT_EQ(out.sizes(), (Shape{2, 10}));
}

TEST(ProcessGroup, OneProcessCollectivesAreTheIdentity) {
  auto self = dist::ProcessGroup::self();
  EXPECT_EQ(self->size(), 1);
  EXPECT_EQ(self->rank(), 0);
  Tensor t = from_vector<float>({1, 2, 3});
  self->all_reduce_sum(t);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  self->broadcast(t, 0);
  EXPECT_EQ(self->all_gather(t).to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(self->all_gather(std::string("x")), (std::vector<std::string>{"x"}));
  EXPECT_EQ(self->all_reduce_sum(std::vector<double>{2.5}), (std::vector<double>{2.5}));
  dist::Request r = self->all_reduce_sum_async(t.mutable_raw_data(), 3, DType::f32);
  EXPECT_TRUE(r.test());
  EXPECT_THROW(self->broadcast(t, 1), Error);
  Tensor strided = zeros({4, 4}).transpose(0, 1);
  EXPECT_THROW(self->all_reduce_sum(strided), Error);
  Tensor b = zeros({2}, DType::boolean);
  EXPECT_THROW(self->all_reduce_sum(b), Error);
  EXPECT_THROW(self->all_gather(from_vector<float>({1}).reshape({})), Error);
  EXPECT_TRUE(dist::ProcessGroup::world()->size() >= 1);
}
