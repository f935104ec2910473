#include "nabla/models/resnet.h"

#include "nabla/nn/nn.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/elementwise.h"

namespace nabla::models {

using std::make_shared;

BasicBlock::BasicBlock(int64_t cin, int64_t cout, int64_t stride) {
  conv1 = register_module("conv1", make_shared<nn::Conv2d>(cin, cout, 3, stride, 1, 1, 1, false));
  bn1 = register_module("bn1", make_shared<nn::BatchNorm2d>(cout));
  conv2 = register_module("conv2", make_shared<nn::Conv2d>(cout, cout, 3, 1, 1, 1, 1, false));
  bn2 = register_module("bn2", make_shared<nn::BatchNorm2d>(cout));
  if (stride != 1 || cin != cout) {
    auto proj = make_shared<nn::Sequential>();
    proj->push_back(make_shared<nn::Conv2d>(cin, cout, 1, stride, 0, 1, 1, false));
    proj->push_back(make_shared<nn::BatchNorm2d>(cout));
    downsample = register_module("downsample", proj);
  }
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor y = relu(bn1->forward(conv1->forward(x)));
  y = bn2->forward(conv2->forward(y));
  return relu(add(y, downsample ? downsample->forward(x) : x));
}

namespace {

class CifarResNet : public nn::Sequential {
 public:
  std::string type_name() const override { return "ResNet"; }
};

}  // namespace

nn::ModulePtr cifar_resnet(const ModelConfig& cfg, int64_t n) {
  NABLA_CHECK(cfg.input_shape.size() == 3, "resnet: needs image input [C, H, W], got {}", shape_str(cfg.input_shape));
  auto net = make_shared<CifarResNet>();
  net->push_back("conv1", make_shared<nn::Conv2d>(cfg.input_shape[0], 16, 3, 1, 1, 1, 1, false));
  net->push_back("bn1", make_shared<nn::BatchNorm2d>(16));
  net->push_back("relu", make_shared<nn::ReLU>());
  int64_t cin = 16;
  int stage = 1;
  for (int64_t cout : {16, 32, 64}) {
    auto layer = make_shared<nn::Sequential>();
    for (int64_t b = 0; b < n; ++b) {
      layer->push_back(make_shared<BasicBlock>(cin, cout, b == 0 && cout != 16 ? 2 : 1));
      cin = cout;
    }
    net->push_back("layer" + std::to_string(stage++), layer);
  }
  net->push_back("avgpool", make_shared<nn::AdaptiveAvgPool2d>(1));
  net->push_back("flatten", make_shared<nn::Flatten>());
  net->push_back("fc", make_shared<nn::Linear>(64, cfg.num_classes));
  return net;
}

}  // namespace nabla::models
