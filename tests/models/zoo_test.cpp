#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include "nabla/models/char_rnn.h"
#include "nabla/models/densenet.h"
#include "nabla/models/fixup.h"
#include "nabla/models/mobilenet.h"
#include "nabla/models/resnet.h"
#include "nabla/models/unet.h"
#include "nabla/nabla.h"

using namespace nabla;

namespace {

models::ModelConfig image_config(Shape input, int64_t classes) {
  models::ModelConfig c;
  c.input_shape = std::move(input);
  c.num_classes = classes;
  return c;
}

double max_of(const Tensor& t) {
  std::vector<double> v = t.detach().to(DType::f64).contiguous().to_vector<double>();
  return *std::max_element(v.begin(), v.end());
}
double min_of(const Tensor& t) { return -max_of(neg(t.detach())); }
double max_abs(const Tensor& t) { return max_of(abs(t.detach())); }
double max_abs_diff(const Tensor& a, const Tensor& b) { return max_abs(sub(a.detach(), b.detach())); }

}  // namespace

// Parameter counts of torchvision's models (1000 classes, RGB), from
// sum(p.numel() for p in torchvision.models.NAME().parameters()).
TEST(Zoo, ParameterCountsMatchTorchvision) {
  auto cfg = image_config({3, 224, 224}, 1000);
  EXPECT_EQ(models::create("resnet18", cfg)->num_parameters(), 11689512);
  EXPECT_EQ(models::create("resnet34", cfg)->num_parameters(), 21797672);
  EXPECT_EQ(models::create("resnet50", cfg)->num_parameters(), 25557032);
  EXPECT_EQ(models::create("resnext50-32x4d", cfg)->num_parameters(), 25028904);
  EXPECT_EQ(models::create("densenet121", cfg)->num_parameters(), 7978856);
  EXPECT_EQ(models::create("mobilenet-v2", cfg)->num_parameters(), 3504872);
}

TEST(Zoo, TorchvisionNamesForResNet18) {
  auto net = models::create("resnet18", image_config({3, 32, 32}, 10));
  io::TensorMap sd = net->state_dict();
  for (const char* k : {"conv1.weight", "bn1.num_batches_tracked", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
                        "layer2.0.downsample.1.running_var", "layer4.1.bn2.bias", "fc.weight", "fc.bias"})
    EXPECT_TRUE(sd.count(k)) << k;
  EXPECT_EQ(sd.at("conv1.weight").sizes(), (Shape{64, 3, 7, 7}));
  EXPECT_EQ(sd.size(), 122u);  // len(torchvision.models.resnet18().state_dict())
}

// Every zoo model builds for a small image, runs forward and backward on a
// batch (every parameter gets a finite gradient), and round-trips through safetensors.
class EveryModel : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryModel, TrainsAStepAndRoundTripsThroughSafetensors) {
  const std::string name = GetParam();
  const bool series = models::model_info(name).input == "series";
  auto cfg = image_config(series ? Shape{2, 50} : Shape{1, 28, 28}, 10);
  default_generator().manual_seed(1);
  auto net = models::create(name, cfg);
  bool lm = dynamic_cast<models::LanguageModel*>(net.get()) != nullptr;
  EXPECT_EQ(lm, models::model_info(name).input == "tokens");
  // Language models read token ids [batch, time]; the vocabulary is cfg.num_classes.
  Tensor x = lm ? from_vector<int64_t>({1, 4, 9, 0, 3, 3, 7, 2}, {2, 4}) : series ? randn({2, 2, 50}) : randn({2, 1, 28, 28});
  Tensor out = net->forward(x);
  if (lm) {
    ASSERT_EQ(out.sizes(), (Shape{2, 4, 10}));
  } else if (name.rfind("unet", 0) == 0) {
    ASSERT_EQ(out.sizes(), (Shape{2, 10, 28, 28}));
  } else {
    ASSERT_EQ(out.sizes(), (Shape{2, 10}));
  }
  sum(square(out)).backward();
  for (auto& [pname, p] : net->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << pname;
    ASSERT_TRUE(std::isfinite(sum(p.grad()).item())) << pname;
  }
  net->eval();
  Tensor before = net->forward(x);
  auto path = (std::filesystem::temp_directory_path() / ("nabla_zoo_" + name + ".safetensors")).string();
  io::save_safetensors(path, net->state_dict());
  default_generator().manual_seed(2);
  auto fresh = models::create(name, cfg);
  fresh->load_state_dict(io::load_safetensors(path));
  std::filesystem::remove(path);
  fresh->eval();
  EXPECT_EQ(max_abs_diff(before, fresh->forward(x)), 0.0);
}

std::vector<std::string> zoo_names() {
  std::vector<std::string> names;
  for (const models::ModelInfo& m : models::zoo()) names.push_back(m.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Zoo, EveryModel, ::testing::ValuesIn(zoo_names()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(Zoo, UnknownModelListsTheKnownOnes) {
  try {
    models::create("resnet9000", image_config({1, 28, 28}, 10));
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("resnet9000"), std::string::npos);
    EXPECT_NE(m.find("wrn-16-4"), std::string::npos);
  }
}

TEST(ResNet, ZeroInitResidualMakesEachBlockStartAsIdentityBranch) {
  auto cfg = image_config({1, 28, 28}, 10);
  cfg.zero_init_residual = true;
  auto net = models::create("resnet20", cfg);
  int blocks = 0;
  for (auto& [name, m] : net->named_modules())
    if (auto* b = dynamic_cast<models::BasicBlock*>(m.get())) {
      EXPECT_EQ(max_abs(b->bn2->weight), 0.0) << name;
      EXPECT_EQ(min_of(b->bn1->weight), 1.0) << name;
      ++blocks;
    }
  EXPECT_EQ(blocks, 9);
}

TEST(ResNet, CifarDepthsAndWideResNetWidths) {
  auto cfg = image_config({3, 32, 32}, 10);
  for (int depth : {20, 32, 44, 56, 110}) {
    auto net = models::cifar_resnet(cfg, depth);
    int convs = 0;
    for (auto& [name, m] : net->named_modules())
      if (dynamic_cast<nn::Conv2d*>(m.get()) && name.find("downsample") == std::string::npos) ++convs;
    EXPECT_EQ(convs + 1, depth);  // stem + 2 per block + fc
  }
  EXPECT_THROW(models::cifar_resnet(cfg, 21), Error);
  EXPECT_THROW(models::wide_resnet(cfg, 15, 4), Error);
  auto wrn = models::wide_resnet(cfg, 16, 4);
  EXPECT_EQ(wrn->state_dict().at("layer3.1.conv2.weight").sizes(), (Shape{256, 256, 3, 3}));
}

TEST(ResNet, StochasticDepthDecaysLinearlyAndIsOffInEval) {
  auto cfg = image_config({1, 28, 28}, 10);
  cfg.drop_path = 0.5;
  auto net = models::create("resnet20", cfg);
  std::vector<double> rates;
  for (auto& [name, m] : net->named_modules())
    if (auto* d = dynamic_cast<nn::DropPath*>(m.get())) rates.push_back(d->p);
  ASSERT_EQ(rates.size(), 9u);
  for (size_t i = 0; i < rates.size(); ++i) EXPECT_NEAR(rates[i], 0.5 * double(i + 1) / 9.0, 1e-12);
  net->eval();
  Tensor x = randn({3, 1, 28, 28});
  EXPECT_EQ(max_abs_diff(net->forward(x), net->forward(x)), 0.0);
}

TEST(DropPath, DropsWholeExamplesAndRescalesTheRest) {
  default_generator().manual_seed(3);
  Tensor x = ones({400, 2, 3});
  Tensor y = drop_path(x, 0.25, true);
  int64_t kept = 0;
  for (int64_t i = 0; i < 400; ++i) {
    double lo = min_of(y.select(0, i)), hi = max_of(y.select(0, i));
    EXPECT_EQ(lo, hi);  // all or nothing per example
    if (hi > 0) {
      EXPECT_NEAR(hi, 1.0 / 0.75, 1e-6);
      ++kept;
    }
  }
  EXPECT_GT(kept, 260);
  EXPECT_LT(kept, 340);
  EXPECT_EQ(max_abs_diff(drop_path(x, 0.25, false), x), 0.0);
}

TEST(Fixup, StartsWithZeroBranchesAndZeroClassifier) {
  auto net = models::create("fixup-resnet20", image_config({1, 28, 28}, 10));
  for (auto& [name, p] : net->named_parameters()) {
    EXPECT_EQ(name.find("bn"), std::string::npos) << "Fixup has no norms: " << name;
    if (name.find("conv2.weight") != std::string::npos || name.rfind("fc.", 0) == 0) {
      EXPECT_EQ(max_abs(p), 0.0) << name;
    }
  }
  // The untrained net predicts all zeros, yet gradients reach the classifier.
  Tensor x = randn({4, 1, 28, 28});
  Tensor out = net->forward(x);
  EXPECT_EQ(max_abs(out), 0.0);
  cross_entropy(out, from_vector<int64_t>({0, 1, 2, 3}, {4})).backward();
  auto sd = net->named_parameters();
  for (auto& [name, p] : sd)
    if (name == "fc.weight") {
      EXPECT_GT(max_abs(p.grad()), 0.0);
    }
}

TEST(UNet, HandlesOddSizesAndBilinearUpsampling) {
  models::UNetSpec s;
  s.base_channels = 4;
  s.depth = 2;
  s.bilinear = true;
  auto net = models::unet(image_config({2, 13, 11}, 3), s);
  Tensor y = net->forward(randn({2, 2, 13, 11}));
  EXPECT_EQ(y.sizes(), (Shape{2, 3, 13, 11}));
  EXPECT_THROW(models::unet(image_config({1, 3, 3}, 2), s), Error);
}
