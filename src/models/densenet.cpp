#include "nabla/models/densenet.h"

#include "nabla/nn/nn.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/pool.h"
#include "nabla/ops/shape.h"

namespace nabla::models {

using std::make_shared;

DenseLayer::DenseLayer(int64_t cin, int64_t k, int64_t bn_size, double drop_rate) {
  push_back("norm1", make_shared<nn::BatchNorm2d>(cin));
  push_back("relu1", make_shared<nn::ReLU>());
  push_back("conv1", make_shared<nn::Conv2d>(cin, bn_size * k, 1, 1, 0, 1, 1, false));
  push_back("norm2", make_shared<nn::BatchNorm2d>(bn_size * k));
  push_back("relu2", make_shared<nn::ReLU>());
  push_back("conv2", make_shared<nn::Conv2d>(bn_size * k, k, 3, 1, 1, 1, 1, false));
  if (drop_rate > 0) push_back("dropout", make_shared<nn::Dropout>(drop_rate));
}

DenseBlock::DenseBlock(int64_t n, int64_t cin, int64_t k, int64_t bn_size, double drop_rate) {
  for (int64_t i = 0; i < n; ++i)
    register_module("denselayer" + std::to_string(i + 1), make_shared<DenseLayer>(cin + i * k, k, bn_size, drop_rate));
}

Tensor DenseBlock::forward(const Tensor& x) {
  std::vector<Tensor> features{x};
  for (auto& [name, layer] : named_children()) features.push_back((*layer)(cat(features, 1)));
  return cat(features, 1);
}

namespace {

class DenseNet : public nn::Module {
 public:
  DenseNet(const ModelConfig& cfg, const DenseNetSpec& s) {
    features = register_module("features", make_shared<nn::Sequential>());
    int64_t C = cfg.input_shape[0], c = s.num_init_features;
    if (s.stem == "imagenet") {
      features->push_back("conv0", make_shared<nn::Conv2d>(C, c, 7, 2, 3, 1, 1, false));
      features->push_back("norm0", make_shared<nn::BatchNorm2d>(c));
      features->push_back("relu0", make_shared<nn::ReLU>());
      features->push_back("pool0", make_shared<nn::MaxPool2d>(3, 2, 1));
    } else {
      features->push_back("conv0", make_shared<nn::Conv2d>(C, c, 3, 1, 1, 1, 1, false));
    }
    for (size_t i = 0; i < s.block_config.size(); ++i) {
      features->push_back("denseblock" + std::to_string(i + 1),
                          make_shared<DenseBlock>(s.block_config[i], c, s.growth_rate, s.bn_size, s.drop_rate));
      c += s.block_config[i] * s.growth_rate;
      if (i + 1 == s.block_config.size()) break;
      int64_t out = static_cast<int64_t>(double(c) * s.compression);
      auto t = make_shared<nn::Sequential>();
      t->push_back("norm", make_shared<nn::BatchNorm2d>(c));
      t->push_back("relu", make_shared<nn::ReLU>());
      t->push_back("conv", make_shared<nn::Conv2d>(c, out, 1, 1, 0, 1, 1, false));
      t->push_back("pool", make_shared<nn::AvgPool2d>(2, 2));
      features->push_back("transition" + std::to_string(i + 1), t);
      c = out;
    }
    features->push_back("norm5", make_shared<nn::BatchNorm2d>(c));
    classifier = register_module("classifier", make_shared<nn::Linear>(c, cfg.num_classes));
  }

  // torchvision's: He-normal convs (fan-in), unit norms, zero classifier bias.
  // Needs the module owned by a shared_ptr (it walks the tree), so not in the constructor.
  void reset_parameters() {
    for (auto& [name, m] : named_modules()) {
      if (auto* conv = dynamic_cast<nn::Conv2d*>(m.get())) {
        nn::init::kaiming_normal_(conv->weight, 0.0, nn::init::FanMode::FanIn, "relu");
      } else if (auto* bn = dynamic_cast<nn::BatchNorm*>(m.get())) {
        nn::init::ones_(bn->weight);
        nn::init::zeros_(bn->bias);
      }
    }
    nn::init::zeros_(classifier->bias);
  }

  Tensor forward(const Tensor& x) override {
    Tensor y = relu((*features)(x));
    return (*classifier)(adaptive_avg_pool2d(y, {1, 1}).flatten(1));
  }
  std::string type_name() const override { return "DenseNet"; }

  std::shared_ptr<nn::Sequential> features;
  std::shared_ptr<nn::Linear> classifier;
};

}  // namespace

nn::ModulePtr densenet(const ModelConfig& cfg, const DenseNetSpec& s) {
  NABLA_CHECK(cfg.input_shape.size() == 3, "densenet: needs image input [C, H, W], got {}",
              shape_str(cfg.input_shape));
  NABLA_CHECK(s.growth_rate >= 1 && s.bn_size >= 1 && s.num_init_features >= 1 && !s.block_config.empty(),
              "densenet: growth rate, bn_size, initial features and the block list must be positive");
  NABLA_CHECK(s.compression > 0 && s.compression <= 1, "densenet: compression must be in (0, 1], got {}",
              s.compression);
  NABLA_CHECK(s.stem == "imagenet" || s.stem == "small", "densenet: unknown stem '{}' (known: imagenet, small)",
              s.stem);
  auto net = make_shared<DenseNet>(cfg, s);
  net->reset_parameters();
  return net;
}

nn::ModulePtr densenet121(const ModelConfig& cfg) {
  DenseNetSpec s;
  if (!cfg.stem.empty()) s.stem = cfg.stem;
  s.drop_rate = cfg.dropout;
  return densenet(cfg, s);
}

nn::ModulePtr densenet_bc(const ModelConfig& cfg, int64_t depth, int64_t k) {
  NABLA_CHECK(depth >= 10 && (depth - 4) % 6 == 0, "densenet_bc: depth must be 6n+4 (40, 100, 190), got {}", depth);
  int64_t n = (depth - 4) / 6;
  DenseNetSpec s;
  s.growth_rate = k;
  s.block_config = {n, n, n};
  s.num_init_features = 2 * k;
  s.stem = cfg.stem.empty() ? "small" : cfg.stem;
  s.drop_rate = cfg.dropout;
  return densenet(cfg, s);
}

}  // namespace nabla::models
