#include "nabla/models/mobilenet.h"

#include "nabla/nn/nn.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/pool.h"

namespace nabla::models {

using std::make_shared;

ConvBNReLU6::ConvBNReLU6(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t groups) {
  push_back(make_shared<nn::Conv2d>(cin, cout, k, stride, (k - 1) / 2, 1, groups, false));
  push_back(make_shared<nn::BatchNorm2d>(cout));
  push_back(make_shared<nn::ReLU6>());
}

InvertedResidual::InvertedResidual(int64_t cin, int64_t cout, int64_t stride, int64_t t)
    : use_residual(stride == 1 && cin == cout) {
  NABLA_CHECK(stride == 1 || stride == 2, "InvertedResidual: stride must be 1 or 2, got {}", stride);
  int64_t hidden = cin * t;
  conv = register_module("conv", make_shared<nn::Sequential>());
  if (t != 1) conv->push_back(make_shared<ConvBNReLU6>(cin, hidden, 1));
  conv->push_back(make_shared<ConvBNReLU6>(hidden, hidden, 3, stride, hidden));
  conv->push_back(make_shared<nn::Conv2d>(hidden, cout, 1, 1, 0, 1, 1, false));
  conv->push_back(make_shared<nn::BatchNorm2d>(cout));
}

Tensor InvertedResidual::forward(const Tensor& x) {
  Tensor y = (*conv)(x);
  return use_residual ? add(x, y) : y;
}

namespace {

class MobileNetV2 : public nn::Module {
 public:
  explicit MobileNetV2(const ModelConfig& cfg) {
    int64_t first_stride = cfg.stem == "small" ? 1 : 2;
    features = register_module("features", make_shared<nn::Sequential>());
    features->push_back(make_shared<ConvBNReLU6>(cfg.input_shape[0], 32, 3, first_stride));
    // (expansion t, channels c, repeats n, stride s) of the paper's Table 2.
    const int64_t table[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                 {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int64_t cin = 32;
    for (const auto& row : table)
      for (int64_t i = 0; i < row[2]; ++i) {
        features->push_back(make_shared<InvertedResidual>(cin, row[1], i == 0 ? row[3] : 1, row[0]));
        cin = row[1];
      }
    features->push_back(make_shared<ConvBNReLU6>(cin, 1280, 1));
    classifier = register_module("classifier", make_shared<nn::Sequential>());
    classifier->push_back(make_shared<nn::Dropout>(cfg.dropout));
    classifier->push_back(make_shared<nn::Linear>(1280, cfg.num_classes));
  }

  // torchvision's: He-normal convs (fan-out), unit norms, N(0, 0.01) classifier.
  // Needs the module owned by a shared_ptr (it walks the tree), so not in the constructor.
  void reset_parameters() {
    for (auto& [name, m] : named_modules()) {
      if (auto* c = dynamic_cast<nn::Conv2d*>(m.get())) {
        nn::init::kaiming_normal_(c->weight, 0.0, nn::init::FanMode::FanOut);
      } else if (auto* bn = dynamic_cast<nn::BatchNorm*>(m.get())) {
        nn::init::ones_(bn->weight);
        nn::init::zeros_(bn->bias);
      } else if (auto* l = dynamic_cast<nn::Linear*>(m.get())) {
        nn::init::normal_(l->weight, 0.0, 0.01);
        nn::init::zeros_(l->bias);
      }
    }
  }

  Tensor forward(const Tensor& x) override {
    return (*classifier)(adaptive_avg_pool2d((*features)(x), {1, 1}).flatten(1));
  }
  std::string type_name() const override { return "MobileNetV2"; }

  std::shared_ptr<nn::Sequential> features, classifier;
};

}  // namespace

nn::ModulePtr mobilenet_v2(const ModelConfig& cfg) {
  NABLA_CHECK(cfg.input_shape.size() == 3, "mobilenet_v2: needs image input [C, H, W], got {}",
              shape_str(cfg.input_shape));
  NABLA_CHECK(cfg.stem.empty() || cfg.stem == "imagenet" || cfg.stem == "small",
              "mobilenet_v2: unknown stem '{}' (known: imagenet, small)", cfg.stem);
  auto net = make_shared<MobileNetV2>(cfg);
  net->reset_parameters();
  return net;
}

}  // namespace nabla::models
