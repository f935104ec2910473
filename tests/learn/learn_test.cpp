// Learning tests: each zoo model, trained briefly on a subset of real
// Fashion-MNIST (the Debian package), must end well above chance (10%).
#include <gtest/gtest.h>

#include "nabla/data/readers.h"
#include "nabla/nabla.h"
#include "nabla/train/trainer.h"

using namespace nabla;

namespace {

double train_subset(const std::string& model, int64_t n_train, int64_t epochs) {
  manual_seed(0);
  data::Splits d = data::load_data_spec("fashion-mnist");
  d.train = d.train->head(n_train);
  d.test = d.test->head(2000);
  train::TrainConfig c;
  c.model = model;
  c.merge_json(models::default_train_config(model));
  c.epochs = epochs;
  c.progress = false;
  std::tie(c.preprocess.mean, c.preprocess.std) = data::channel_stats(d.train->inputs());
  models::ModelConfig mc;
  mc.input_shape = {1, 28, 28};
  mc.num_classes = 10;
  auto m = models::create(model, mc);
  train::Trainer t(c, m, mc, d);
  return t.fit().back().test_acc;
}

}  // namespace

TEST(Learn, MlpOnFashionMnistSubset) {
  double acc = train_subset("mlp", 10000, 3);
  RecordProperty("test_acc", std::to_string(acc));
  EXPECT_GT(acc, 0.78);
}

TEST(Learn, LenetOnFashionMnistSubset) {
  double acc = train_subset("lenet", 5000, 2);
  RecordProperty("test_acc", std::to_string(acc));
  EXPECT_GT(acc, 0.70);
}
