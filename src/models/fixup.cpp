#include "nabla/models/fixup.h"

#include <cmath>

#include "nabla/autograd/grad_mode.h"
#include "nabla/nn/nn.h"
#include "nabla/ops/pool.h"
#include "nabla/tensor/factory.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/elementwise.h"

namespace nabla::models {

using std::make_shared;

FixupBasicBlock::FixupBasicBlock(int64_t cin, int64_t planes, int64_t stride) {
  register_parameter("bias1a", bias1a, zeros({1}));
  conv1 = register_module("conv1", make_shared<nn::Conv2d>(cin, planes, 3, stride, 1, 1, 1, false));
  register_parameter("bias1b", bias1b, zeros({1}));
  register_parameter("bias2a", bias2a, zeros({1}));
  conv2 = register_module("conv2", make_shared<nn::Conv2d>(planes, planes, 3, 1, 1, 1, 1, false));
  register_parameter("scale", scale, ones({1}));
  register_parameter("bias2b", bias2b, zeros({1}));
  if (stride != 1 || cin != planes)
    downsample = register_module("downsample", make_shared<nn::Conv2d>(cin, planes, 1, stride, 0, 1, 1, false));
  // A scalar's gradient sums over every pixel and channel: the paper's code
  // trains the scalars at a tenth of the base learning rate.
  for (const char* n : {"bias1a", "bias1b", "bias2a", "bias2b", "scale"}) set_lr_multiplier(n, 0.1);
}

Tensor FixupBasicBlock::forward(const Tensor& x) {
  Tensor xa = add(x, bias1a);
  Tensor y = relu(add((*conv1)(xa), bias1b));
  y = add(mul((*conv2)(add(y, bias2a)), scale), bias2b);
  return relu(add(y, downsample ? (*downsample)(xa) : x));
}

namespace {

class FixupResNet : public nn::Module {
 public:
  FixupResNet(const ModelConfig& cfg, int64_t n) {
    conv1 = register_module("conv1", make_shared<nn::Conv2d>(cfg.input_shape[0], 16, 3, 1, 1, 1, 1, false));
    register_parameter("bias1", bias1, zeros({1}));
    int64_t cin = 16, stage = 1;
    for (int64_t cout : {16, 32, 64}) {
      auto layer = make_shared<nn::Sequential>();
      for (int64_t b = 0; b < n; ++b) {
        layer->push_back(make_shared<FixupBasicBlock>(cin, cout, b == 0 && stage > 1 ? 2 : 1));
        cin = cout;
      }
      layers.push_back(register_module("layer" + std::to_string(stage++), layer));
    }
    register_parameter("bias2", bias2, zeros({1}));
    fc = register_module("fc", make_shared<nn::Linear>(64, cfg.num_classes));
    set_lr_multiplier("bias1", 0.1);
    set_lr_multiplier("bias2", 0.1);
  }

  // Needs the module owned by a shared_ptr (it walks the tree), so not in the constructor.
  void reset_parameters() {
    // He-normal everywhere, then the Fixup rescaling: branch convs by
    // L^(-1/(2m-2)) with m = 2 layers per branch, last conv and classifier zero.
    double L = 0;
    for (auto& layer : layers) L += double(layer->size());
    for (auto& [name, m] : named_modules())
      if (auto* c = dynamic_cast<nn::Conv2d*>(m.get()))
        nn::init::kaiming_normal_(c->weight, 0.0, nn::init::FanMode::FanOut, "relu");
    for (auto& layer : layers)
      for (auto& [name, m] : layer->named_children()) {
        auto* b = static_cast<FixupBasicBlock*>(m.get());
        NoGradGuard g;
        b->conv1->weight.mul_(std::pow(L, -0.5));
        nn::init::zeros_(b->conv2->weight);
      }
    nn::init::zeros_(fc->weight);
    nn::init::zeros_(fc->bias);
  }

  Tensor forward(const Tensor& x) override {
    Tensor y = relu(add((*conv1)(x), bias1));
    for (auto& layer : layers) y = (*layer)(y);
    y = adaptive_avg_pool2d(y, {1, 1}).flatten(1);
    return (*fc)(add(y, bias2));
  }
  std::string type_name() const override { return "FixupResNet"; }

  std::shared_ptr<nn::Conv2d> conv1;
  std::vector<std::shared_ptr<nn::Sequential>> layers;
  std::shared_ptr<nn::Linear> fc;
  Tensor bias1, bias2;
};

}  // namespace

nn::ModulePtr fixup_cifar_resnet(const ModelConfig& cfg, int64_t depth) {
  NABLA_CHECK(cfg.input_shape.size() == 3, "fixup_resnet: needs image input [C, H, W], got {}",
              shape_str(cfg.input_shape));
  NABLA_CHECK(depth >= 8 && (depth - 2) % 6 == 0, "fixup_resnet: depth must be 6n+2 (20, 32, 44, 56, 110), got {}",
              depth);
  auto net = make_shared<FixupResNet>(cfg, (depth - 2) / 6);
  net->reset_parameters();
  return net;
}

}  // namespace nabla::models
