#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.h"

using namespace nabla;
using std::make_shared;

namespace {

class Block : public nn::Module {
 public:
  Block() {
    conv = register_module("conv", make_shared<nn::Conv2d>(2, 4, 3, 1, 1));
    bn = register_module("bn", make_shared<nn::BatchNorm2d>(4));
  }
  Tensor forward(const Tensor& x) override { return relu(bn->forward(conv->forward(x))); }
  std::string type_name() const override { return "Block"; }
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::BatchNorm2d> bn;
};

}  // namespace

TEST(Module, StateDictUsesPyTorchDottedNames) {
  auto net = make_shared<nn::Sequential>();
  net->push_back(make_shared<Block>());
  net->push_back(make_shared<nn::Flatten>());
  net->push_back(make_shared<nn::Linear>(4 * 5 * 5, 3));
  std::vector<std::string> keys;
  for (auto& [k, v] : net->state_dict()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"0.bn.bias", "0.bn.num_batches_tracked", "0.bn.running_mean",
                                            "0.bn.running_var", "0.bn.weight", "0.conv.bias", "0.conv.weight",
                                            "2.bias", "2.weight"}));
  EXPECT_EQ(net->parameters().size(), 6u);
  EXPECT_EQ(net->num_parameters(), 4 * 2 * 9 + 4 + 4 + 4 + 100 * 3 + 3);
  Tensor y = net->forward(randn({2, 2, 5, 5}));
  EXPECT_EQ(y.sizes(), (Shape{2, 3}));
  EXPECT_NE(net->str().find("(0): Block("), std::string::npos);
}

TEST(Module, LoadStateDictCopiesValuesAndChecksKeys) {
  auto a = make_shared<nn::Linear>(3, 2), b = make_shared<nn::Linear>(3, 2);
  b->load_state_dict(a->state_dict());
  EXPECT_TRUE(allclose(a->weight, b->weight, 0, 0));
  Tensor w_before = b->weight;
  EXPECT_EQ(w_before.storage(), b->weight.storage());  // loaded in place: optimizers keep working
  io::TensorMap missing = a->state_dict();
  missing.erase("bias");
  EXPECT_THROW(b->load_state_dict(missing), Error);
  b->load_state_dict(missing, /*strict=*/false);
  io::TensorMap extra = a->state_dict();
  extra["extra"] = zeros({1});
  try {
    b->load_state_dict(extra);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("extra"), std::string::npos);
  }
  io::TensorMap bad = a->state_dict();
  bad["weight"] = zeros({2, 4});
  try {
    b->load_state_dict(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 4]"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos);
  }
}

TEST(Module, TrainEvalSwitchesBatchNormAndDropout) {
  auto bn = make_shared<nn::BatchNorm1d>(3);
  Tensor x = randn({16, 3}) * 2.0 + 5.0;
  bn->forward(x);
  EXPECT_EQ(bn->num_batches_tracked.item(), 1);
  // running_mean moved 10% toward the batch mean
  EXPECT_TRUE(allclose(bn->running_mean, mean(x, {0}) * 0.1, 1e-4, 1e-5));
  bn->eval();
  Tensor y = bn->forward(x);
  EXPECT_FALSE(allclose(mean(y, {0}), zeros({3}), 0, 0.1));  // running stats, not batch stats
  auto drop = make_shared<nn::Dropout>(0.5);
  Tensor ones_in = ones({1000});
  double kept = (drop->forward(ones_in) > 0.0).to(DType::f32).mean().item();
  EXPECT_NEAR(kept, 0.5, 0.06);
  drop->eval();
  EXPECT_TRUE(allclose(drop->forward(ones_in), ones_in, 0, 0));
}

TEST(Module, ZeroGradClearsGradients) {
  auto l = make_shared<nn::Linear>(3, 2);
  l->forward(randn({4, 3})).sum().backward();
  EXPECT_TRUE(l->weight.grad().defined());
  l->zero_grad(false);
  EXPECT_EQ(l->weight.grad().abs().sum().item(), 0.0);
  l->zero_grad();
  EXPECT_FALSE(l->weight.grad().defined());
}

TEST(Module, ContainersIndexAndName) {
  nn::ModuleList list{make_shared<nn::ReLU>(), make_shared<nn::Tanh>()};
  EXPECT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1]->type_name(), "Tanh");
  EXPECT_THROW(list[2], Error);
  nn::ModuleDict dict;
  dict.insert("act", make_shared<nn::GELU>());
  EXPECT_TRUE(dict.contains("act"));
  EXPECT_THROW(dict["nope"], Error);
  EXPECT_THROW(dict.insert("act", make_shared<nn::ReLU>()), Error);
}

TEST(Module, LayersCheckTheirInputs) {
  nn::Conv2d conv(3, 8, 3);
  try {
    conv.forward(zeros({32, 1, 28, 28}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("C=3, got [32, 1, 28, 28]"), std::string::npos) << e.what();
  }
  nn::BatchNorm2d bn(4);
  EXPECT_THROW(bn.forward(zeros({2, 4, 3})), Error);
  EXPECT_THROW(bn.forward(zeros({2, 5, 3, 3})), Error);
  EXPECT_THROW(nn::Linear(0, 3), Error);
  EXPECT_THROW(nn::Conv2d(3, 4, 3, 1, 0, 1, 2), Error);  // 3 channels into 2 groups
  nn::Conv2d same(2, 2, nn::ConvOptions{{4, 4}, {1, 1}, {0, 0}, {1, 1}, 1, true, true});
  EXPECT_EQ(same.forward(zeros({1, 2, 7, 9})).sizes(), (Shape{1, 2, 7, 9}));
}

TEST(Init, DefaultsAndInitializersHaveTheRightStatistics) {
  manual_seed(3);
  nn::Linear l(400, 300);
  double bound = 1.0 / std::sqrt(400.0);
  EXPECT_LE(max(l.weight).item(), bound);
  EXPECT_GE(min(l.weight).item(), -bound);
  EXPECT_NEAR(nabla::std(l.weight, {}).item(), bound / std::sqrt(3.0), 0.002);
  Tensor w = empty({256, 512});
  nn::init::kaiming_normal_(w, 0, nn::init::FanMode::FanIn, "relu");
  EXPECT_NEAR(nabla::std(w, {}).item(), std::sqrt(2.0 / 512), 0.002);
  nn::init::xavier_uniform_(w);
  EXPECT_NEAR(nabla::std(w, {}).item(), std::sqrt(2.0 / (256 + 512)), 0.002);
  Tensor q = empty({6, 10});
  nn::init::orthogonal_(q);
  EXPECT_TRUE(allclose(matmul(q, q.t()), eye(6), 1e-5, 1e-5));
  nn::init::trunc_normal_(w, 0, 1, -0.5, 0.5);
  EXPECT_LE(max(w).item(), 0.5);
  EXPECT_GE(min(w).item(), -0.5);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("tanh"), 5.0 / 3.0);
  EXPECT_THROW(nn::init::calculate_gain("swish"), Error);
}

TEST(Module, ReluKeepsNaNAsPyTorch) {
  nn::ReLU r;
  Tensor y = r.forward(from_vector<float>({NAN, -1.0f, 0.0f, 2.0f}));
  std::vector<float> v = y.to_vector<float>();
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], 0.0f);
  EXPECT_EQ(v[2], 0.0f);
  EXPECT_EQ(v[3], 2.0f);
}
