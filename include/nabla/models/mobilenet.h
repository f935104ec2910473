#pragma once
// MobileNetV2 (Sandler et al. 2018): inverted residual blocks (1x1 expansion,
// 3x3 depthwise conv, linear 1x1 projection) with ReLU6. Parameter names follow
// torchvision (features.0.0, features.1.conv.0.0, classifier.1).
#include "nabla/models/zoo.h"
#include "nabla/nn/container.h"

namespace nabla::models {

/// conv(k, stride, groups)-BN-ReLU6, torchvision's Conv2dNormActivation.
class ConvBNReLU6 : public nn::Sequential {
 public:
  ConvBNReLU6(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t groups = 1);
  std::string type_name() const override { return "Conv2dNormActivation"; }
};

/// Expand (1x1, ratio t) - depthwise 3x3 (stride) - project (1x1, linear) - BN,
/// with the input added back when stride is 1 and the channel count is kept.
class InvertedResidual : public nn::Module {
 public:
  InvertedResidual(int64_t in_channels, int64_t out_channels, int64_t stride, int64_t expand_ratio);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "InvertedResidual"; }
  std::shared_ptr<nn::Sequential> conv;
  bool use_residual;
};

/// torchvision's MobileNetV2 (width 1.0, classifier dropout cfg.dropout); with
/// cfg.stem "small" the first conv has stride 1, for 28x28 and 32x32 inputs.
nn::ModulePtr mobilenet_v2(const ModelConfig& cfg);

}  // namespace nabla::models
