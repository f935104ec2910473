// Data parallelism across processes: run under `mpirun -np 2` (ctest label `dist`). Every rank also trains the
// single-process reference (ProcessGroup::self()) and compares: W ranks with batch B must give the parameters of
// one process with batch W B on the same data order.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "nabla/dist/process_group.h"
#include "nabla/dist/reducer.h"
#include "nabla/dist/sync_batch_norm.h"
#include "nabla/io/file.h"
#include "nabla/nabla.h"
#include "support/expect_close.h"

using namespace nabla;

namespace {

std::shared_ptr<dist::ProcessGroup> world() { return dist::ProcessGroup::world(); }

#define REQUIRE_RANKS()                                                                    \
  if (world()->size() < 2) GTEST_SKIP() << "run under mpirun -np 2 (one process here)"

const data::Splits& fashion() {
  static data::Splits d = data::load_data_spec("fashion-mnist");
  return d;
}

data::Splits first(int64_t train, int64_t test) {
  const data::Splits& d = fashion();
  data::Splits s = d;
  s.train = std::make_shared<data::TensorDataset>(d.train->inputs().narrow(0, 0, train),
                                                  d.train->labels().narrow(0, 0, train), d.train->num_classes());
  s.test = std::make_shared<data::TensorDataset>(d.test->inputs().narrow(0, 0, test),
                                                 d.test->labels().narrow(0, 0, test), d.test->num_classes());
  return s;
}

struct TrainedRun {
  io::TensorMap state;
  std::vector<train::EpochMetrics> history;
  int64_t steps = 0;
};

models::ModelConfig fashion_model() {
  models::ModelConfig mc;
  mc.input_shape = {1, 28, 28};
  mc.num_classes = 10;
  return mc;
}

// Trains `cfg` on `d` over `group`; the model's initial weights come from seed `init_seed`.
TrainedRun train_on(const train::TrainConfig& cfg, const models::ModelConfig& mc, const data::Splits& d,
                    std::shared_ptr<dist::ProcessGroup> group, uint64_t init_seed) {
  manual_seed(init_seed);
  nn::ModulePtr m = models::create(cfg.model, mc);
  manual_seed(cfg.seed);
  train::Trainer t(cfg, m, mc, d, std::move(group));
  TrainedRun r;
  r.history = t.fit();
  r.state = m->state_dict();
  r.steps = t.step();
  return r;
}

train::TrainConfig sgd(const std::string& model, int64_t batch) {
  train::TrainConfig c;
  c.model = model;
  c.epochs = 1;
  c.batch_size = batch;
  c.opt = "sgd";
  c.lr = 0.05;
  c.momentum = 0.9;
  c.progress = false;
  c.preprocess.normalize = "standard";
  c.preprocess.mean = {0.286};
  c.preprocess.std = {0.353};
  return c;
}

void expect_same_state(const io::TensorMap& got, const io::TensorMap& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  double worst = 0;
  std::string at;
  for (const auto& [name, t] : want) {
    if (!is_floating(t.dtype())) {
      EXPECT_EQ(got.at(name).to(DType::f64).to_vector<double>(), t.to(DType::f64).to_vector<double>()) << name;
      continue;
    }
    double d = nabla::testing::max_relative_difference(got.at(name), t);
    if (d > worst) worst = d, at = name;
  }
  EXPECT_LE(worst, tol) << "worst tensor: " << at;
  std::fprintf(stderr, "[rank %d] largest relative difference %.3g (%s)\n", world()->rank(), worst, at.c_str());
}

}  // namespace

TEST(Dist, CollectivesSumBroadcastAndGather) {
  REQUIRE_RANKS();
  auto w = world();
  int r = w->rank(), W = w->size();
  Tensor t = full({3}, static_cast<double>(r + 1));
  w->all_reduce_sum(t);
  EXPECT_EQ(t.to_vector<float>(), std::vector<float>(3, static_cast<float>(W * (W + 1) / 2)));
  Tensor i = full({2}, static_cast<double>(r), DType::i64);
  w->all_reduce_sum(i);
  EXPECT_EQ(i.to_vector<int64_t>(), std::vector<int64_t>(2, W * (W - 1) / 2));
  Tensor b = full({2, 2}, static_cast<double>(r * 10), DType::f64);
  w->broadcast(b, W - 1);
  EXPECT_EQ(b.to_vector<double>(), std::vector<double>(4, (W - 1) * 10.0));
  // Rank r gathers r + 1 rows.
  Tensor g = w->all_gather(full({r + 1, 2}, static_cast<double>(r)));
  EXPECT_EQ(g.size(0), W * (W + 1) / 2);
  EXPECT_EQ(g.to_vector<float>()[0], 0.f);
  EXPECT_EQ(g.to_vector<float>().back(), static_cast<float>(W - 1));
  EXPECT_EQ(w->all_gather(std::string(static_cast<size_t>(r), 'x')).back(), std::string(static_cast<size_t>(W - 1), 'x'));
  Tensor a = full({1000}, 1.0);
  dist::Request req = w->all_reduce_sum_async(a.mutable_raw_data(), a.numel(), DType::f32);
  req.wait();
  EXPECT_EQ(a.to_vector<float>()[999], static_cast<float>(W));
  // Disagreeing shapes are named instead of corrupting memory.
  Tensor odd = zeros({r + 1});
  EXPECT_THROW(w->broadcast(odd, 0), Error);
  auto dup = w->duplicate();
  EXPECT_EQ(dup->size(), W);
  Tensor s = ones({4});
  EXPECT_EQ(dist::all_reduce_sum(s, dup).to_vector<float>()[0], static_cast<float>(W));
}

TEST(Dist, SyncBatchNormIsBatchNormOfTheConcatenatedBatch) {
  REQUIRE_RANKS();
  const int W = world()->size(), r = world()->rank();
  // Rank r holds rows [2r, 2r + 2 + r) of one batch every rank can build (ranks may hold different counts).
  Generator g(21);
  std::vector<int64_t> rows;
  int64_t n_all = 0;
  for (int k = 0; k < W; ++k) rows.push_back(2 + k), n_all += 2 + k;
  Tensor all = randn({n_all, 3, 2, 5}, DType::f64, &g).add_(1.5);
  Tensor w = randn({3}, DType::f64, &g), b = randn({3}, DType::f64, &g), y = randn({n_all, 3, 2, 5}, DType::f64, &g);
  int64_t lo = 0;
  for (int k = 0; k < r; ++k) lo += rows[k];
  Tensor mine = all.narrow(0, lo, rows[r]).clone().requires_grad_();
  Tensor wl = w.clone().requires_grad_(), bl = b.clone().requires_grad_();
  Tensor rm = zeros({3}, DType::f64), rv = ones({3}, DType::f64);
  Tensor out = dist::sync_batch_norm(mine, rm, rv, wl, bl, 0.1, 1e-5, world()->duplicate());
  sum(mul(out, y.narrow(0, lo, rows[r]))).backward();
  Tensor ref_x = all.clone().requires_grad_(), wr = w.clone().requires_grad_(), br = b.clone().requires_grad_();
  Tensor rm1 = zeros({3}, DType::f64), rv1 = ones({3}, DType::f64);
  Tensor ref = batch_norm(ref_x, rm1, rv1, wr, br, true, 0.1, 1e-5);
  sum(mul(ref, y)).backward();
  nabla::testing::expect_close(out, ref.narrow(0, lo, rows[r]), 1e-12, "output");
  nabla::testing::expect_close(mine.grad(), ref_x.grad().narrow(0, lo, rows[r]), 1e-12, "input gradient");
  // The weight's gradient is each rank's part; their sum is the whole batch's.
  Tensor gw = wl.grad().clone(), gb = bl.grad().clone();
  world()->all_reduce_sum(gw);
  world()->all_reduce_sum(gb);
  nabla::testing::expect_close(gw, wr.grad(), 1e-12, "weight gradient");
  nabla::testing::expect_close(gb, br.grad(), 1e-12, "bias gradient");
  nabla::testing::expect_close(rm, rm1, 1e-12, "running mean");
  nabla::testing::expect_close(rv, rv1, 1e-12, "running var");
}

TEST(Dist, BroadcastStateGivesEveryRankRankZerosModel) {
  REQUIRE_RANKS();
  manual_seed(100 + static_cast<uint64_t>(world()->rank()));
  models::ModelConfig mc = fashion_model();
  nn::ModulePtr m = models::create("resnet20", mc);
  dist::broadcast_state(*m, *world());
  manual_seed(100);
  nn::ModulePtr zero = models::create("resnet20", mc);
  expect_same_state(m->state_dict(), zero->state_dict(), 0.0);
  models::ModelConfig other = mc;
  other.num_classes = world()->rank() == 0 ? 10 : 7;
  nn::ModulePtr differs = models::create("resnet20", other);
  EXPECT_THROW(dist::broadcast_state(*differs, *world()), Error);
}

TEST(Dist, MlpWithAugmentationMatchesOneProcessWithTheLargeBatch) {
  REQUIRE_RANKS();
  const int W = world()->size();
  const int64_t B = 32, steps = 20;
  data::Splits d = first(steps * B * W, 200);
  train::TrainConfig c = sgd("mlp", B);
  c.preprocess.crop_padding = 2;
  c.preprocess.hflip = true;
  c.preprocess.erasing = 0.25;
  // The ranks start from different weights: the broadcast from rank 0 must even them out.
  TrainedRun dist_run = train_on(c, fashion_model(), d, world(), 7 + static_cast<uint64_t>(world()->rank()));
  train::TrainConfig one = c;
  one.batch_size = B * W;
  TrainedRun ref = train_on(one, fashion_model(), d, dist::ProcessGroup::self(), 7);
  EXPECT_EQ(dist_run.steps, steps);
  EXPECT_EQ(ref.steps, steps);
  expect_same_state(dist_run.state, ref.state, 1e-5);
  // The sharded evaluation and the reduced training figures are the single process's.
  EXPECT_NEAR(dist_run.history[0].test_acc, ref.history[0].test_acc, 1e-9);
  EXPECT_NEAR(dist_run.history[0].test_loss, ref.history[0].test_loss, 1e-4);
  EXPECT_NEAR(dist_run.history[0].train_loss, ref.history[0].train_loss, 1e-4);
  EXPECT_FALSE(std::isnan(dist_run.history[0].step_comm_wait_s));
}

TEST(Dist, Resnet20WithSyncBatchNormMatchesOneProcess) {
  REQUIRE_RANKS();
  const int W = world()->size();
  const int64_t B = 8, steps = 20;
  data::Splits d = first(steps * B * W, 64);
  train::TrainConfig c = sgd("resnet20", B);
  c.lr = 0.02;
  c.sync_bn = true;  // without it the test fails (per-rank statistics: 1.5 relative after 20 steps)
  // In f64: in f32 the single process itself, run at 1 and at 2 threads, drifts from 1e-6 apart after one step
  // to 1e-1 after 20 (ReLU and pooling decisions flip on the images' flat backgrounds).
  c.precision = "f64";
  c.preprocess.hflip = true;
  TrainedRun dist_run = train_on(c, fashion_model(), d, world(), 3);
  train::TrainConfig one = c;
  one.batch_size = B * W;
  TrainedRun ref = train_on(one, fashion_model(), d, dist::ProcessGroup::self(), 3);
  EXPECT_EQ(dist_run.steps, steps);
  // Parameters and the batch norms' running statistics alike.
  expect_same_state(dist_run.state, ref.state, 1e-5);
}

TEST(Dist, AccumulatingMicroBatchesAcrossRanksMatchesTheLargeBatch) {
  REQUIRE_RANKS();
  const int W = world()->size();
  const int64_t B = 16, steps = 20;
  data::Splits d = first(steps * B * 2 * W + 40, 100);  // and a short last step
  train::TrainConfig c = sgd("mlp", B);
  c.accumulate = 2;
  c.bucket_mb = 0.05;  // many buckets
  TrainedRun dist_run = train_on(c, fashion_model(), d, world(), 5);
  train::TrainConfig one = c;
  one.batch_size = B * 2 * W;
  one.accumulate = 1;
  TrainedRun ref = train_on(one, fashion_model(), d, dist::ProcessGroup::self(), 5);
  EXPECT_EQ(dist_run.steps, steps + 1);
  EXPECT_EQ(ref.steps, steps + 1);
  expect_same_state(dist_run.state, ref.state, 1e-5);
}

TEST(Dist, CharacterModelOnTextMatchesOneProcessWithMoreStreams) {
  REQUIRE_RANKS();
  const int W = world()->size();
  std::string text;
  for (int i = 0; i < 300; ++i) text += "the quick brown fox jumps over the lazy dog. ";
  // Each rank its own file (they may share a folder), the same text.
  std::string path = fmt::format("/tmp/nabla_dist_text_{}_{}.txt", ::getpid(), world()->rank());
  io::write_file_atomic(path, text);
  data::Splits d = data::load_data_spec("text:" + path);
  std::remove(path.c_str());
  train::TrainConfig c;
  c.model = "char-gru";
  c.epochs = 1;
  c.batch_size = 4;
  c.bptt = 32;
  c.opt = "sgd";
  c.lr = 0.5;
  c.momentum = 0;
  c.progress = false;
  c.preprocess.normalize = "none";
  models::ModelConfig mc;
  mc.num_classes = d.train->num_classes();
  mc.hidden = {32};
  TrainedRun dist_run = train_on(c, mc, d, world(), 9);
  train::TrainConfig one = c;
  one.batch_size = c.batch_size * W;
  TrainedRun ref = train_on(one, mc, d, dist::ProcessGroup::self(), 9);
  EXPECT_EQ(dist_run.steps, ref.steps);
  EXPECT_GE(ref.steps, 5);
  expect_same_state(dist_run.state, ref.state, 1e-5);
  EXPECT_NEAR(dist_run.history[0].test_loss, ref.history[0].test_loss, 1e-5);
}

TEST(Dist, ShardedEvaluationEqualsTheWholeSet) {
  REQUIRE_RANKS();
  data::Splits d = first(10, 1001);  // not a multiple of the ranks
  manual_seed(1);
  nn::ModulePtr m = models::create("lenet", fashion_model());
  data::Preprocess pre;
  pre.normalize = "none";
  train::EvalResult all = train::evaluate(*m, *d.test, pre, 128);
  train::EvalResult shard = train::evaluate(*m, *d.test, pre, 128, world().get());
  EXPECT_EQ(shard.probs.size(0), 1001);
  nabla::testing::expect_close(shard.probs, all.probs, 1e-6, "probs");
  EXPECT_NEAR(shard.loss, all.loss, 1e-6);
  EXPECT_DOUBLE_EQ(shard.accuracy, all.accuracy);
  EXPECT_EQ(shard.confusion.to_vector<int64_t>(), all.confusion.to_vector<int64_t>());
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  dist::init();
  if (!dist::mpi_compiled()) std::fprintf(stderr, "nabla_dist_tests: built without MPI\n");
  int rc = RUN_ALL_TESTS();
  // A test failing on one rank only must fail the job: every rank reports the worst exit code.
  std::vector<double> worst = world()->all_reduce_sum(std::vector<double>{rc ? 1.0 : 0.0});
  return worst[0] > 0 ? 1 : 0;
}
