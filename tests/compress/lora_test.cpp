// LoRA: adapters start as the identity update, compute base + (alpha/r) B A x,
// train alone on a frozen base, merge exactly, and come back from a state_dict.
#include <gtest/gtest.h>

#include "nabla/compress/lora.h"
#include "nabla/nabla.h"
#include "nabla/train/trainer.h"
#include "train/toy.h"

using namespace nabla;

namespace {

std::shared_ptr<nn::Sequential> net(uint64_t seed = 0) {
  manual_seed(seed);
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(6, 8), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(8, 3));
}

nn::Linear& linear(nn::Module& m, const std::string& path) { return dynamic_cast<nn::Linear&>(m.get_submodule(path)); }

}  // namespace

TEST(LoRA, AdaptersStartAtZeroAndComputeTheScaledUpdate) {
  auto m = net();
  Tensor x = randn({5, 6});
  Tensor base = (*m)(x).detach();
  compress::LoRAOptions o;
  o.rank = 2;
  o.alpha = 6;
  EXPECT_EQ(compress::add_lora(*m, o), (std::vector<std::string>{"0", "2"}));
  EXPECT_TRUE(allclose((*m)(x), base, 0, 0));  // B = 0
  std::vector<std::string> trainable, names;
  for (auto& [n, p] : m->named_parameters()) {
    names.push_back(n);
    if (p.requires_grad()) trainable.push_back(n);
  }
  EXPECT_EQ(trainable, (std::vector<std::string>{"0.lora_A.weight", "0.lora_B.weight", "2.lora_A.weight",
                                                  "2.lora_B.weight"}));
  EXPECT_EQ(names.size(), 8u);  // the base's weights and biases keep their names
  // An optimizer over the trainer's groups steps only the adapters.
  size_t grouped = 0;
  for (const auto& g : optim::param_groups(*m, 0.1, 0.0)) grouped += g.params.size();
  EXPECT_EQ(grouped, 4u);

  // With B set: layer 0 computes W x + b + (6 / 2) B A x.
  auto& l0 = linear(*m, "0");
  Tensor A = linear(*m, "0.lora_A").weight, B = linear(*m, "0.lora_B").weight;
  {
    NoGradGuard ng;
    B.copy_(randn(B.sizes()));
  }
  Tensor want = add(nabla::linear(x, l0.weight, l0.bias), mul(matmul(matmul(x, A.t()), B.t()), 3.0));
  EXPECT_TRUE(allclose(l0(x), want, 1e-5, 1e-6));
  sum((*m)(x)).backward();
  EXPECT_TRUE(A.grad().defined());
  EXPECT_FALSE(l0.weight.grad().defined());  // frozen
}

TEST(LoRA, MergeFoldsTheUpdateIntoAPlainModel) {
  auto m = net(1);
  compress::LoRAOptions o;
  o.rank = 3;
  compress::add_lora(*m, o);
  {
    NoGradGuard ng;
    for (const char* p : {"0.lora_B", "2.lora_B"}) linear(*m, p).weight.copy_(randn({p[0] == '0' ? 8 : 3, 3}));
  }
  Tensor x = randn({4, 6});
  Tensor y = (*m)(x).detach();
  EXPECT_TRUE(compress::has_lora(*m));
  EXPECT_EQ(compress::merge_lora(*m), 2);
  EXPECT_FALSE(compress::has_lora(*m));
  EXPECT_TRUE(allclose((*m)(x), y, 1e-5, 1e-5));
  auto plain = net(2);
  plain->load_state_dict(m->state_dict());  // the same keys as an unadapted model
  for (auto& [n, p] : m->named_parameters()) EXPECT_TRUE(p.requires_grad()) << n;
}

TEST(LoRA, AStateDictBringsTheAdaptersBack) {
  auto m = net(3);
  compress::LoRAOptions o;
  o.rank = 2;
  o.alpha = 4;
  o.targets = {"2"};
  compress::add_lora(*m, o);
  {
    NoGradGuard ng;
    linear(*m, "2.lora_B").weight.copy_(randn({3, 2}));
  }
  Tensor x = randn({4, 6});
  Tensor y = (*m)(x).detach();
  auto fresh = net(4);
  EXPECT_EQ(compress::adopt_lora(*fresh, m->state_dict(), 4.0), 1);
  fresh->load_state_dict(m->state_dict());
  EXPECT_TRUE(allclose((*fresh)(x), y, 1e-6, 1e-6));
  o.targets = {"1"};  // a ReLU
  EXPECT_THROW(compress::add_lora(*net(), o), Error);
  o.targets = {};
  o.rank = 0;
  EXPECT_THROW(compress::add_lora(*net(), o), Error);
}

// `lora` in the training config: the trainer adapts a trained base, steps only
// the adapters, and its checkpoints rebuild the adapted model.
TEST(LoRA, TheTrainerTrainsOnlyTheAdapters) {
  data::Splits d = nabla::testing::toy_data(400, 1);
  manual_seed(5);
  models::ModelConfig mc;
  auto model = nabla::testing::toy_model(&mc);
  train::TrainConfig c = nabla::testing::toy_config();
  c.epochs = 1;
  train::Trainer(c, model, mc, d).fit();
  std::map<std::string, Tensor> base;
  for (auto& [n, p] : model->named_parameters()) base[n] = p.detach().clone();

  c.lora = 2;
  c.lora_alpha = 4;
  c.epochs = 2;
  train::Trainer t(c, model, mc, d);
  EXPECT_GT(t.fit().back().test_acc, 0.9);
  int64_t adapters = 0;
  for (auto& [n, p] : model->named_parameters()) {
    if (base.count(n)) {
      EXPECT_TRUE(allclose(p, base.at(n), 0, 0)) << n << " moved";
    } else {
      ++adapters;
      EXPECT_NE(n.find(".lora_"), std::string::npos) << n;
      EXPECT_GT(sum(abs(p)).item(), 0.0) << n << " did not train";  // B starts at zero
    }
  }
  EXPECT_EQ(adapters, 4);  // two Linear layers, A and B each
  auto rebuilt = train::model_from_checkpoint(t.checkpoint(), nullptr, nullptr, nullptr);
  model->eval();
  rebuilt->eval();
  Tensor x = d.test->inputs().narrow(0, 0, 8);
  EXPECT_TRUE(allclose((*rebuilt)(x), (*model)(x), 1e-6, 1e-6));
}
