#pragma once
// Fixup (Zhang, Dauphin & Ma 2019): residual networks trained without any
// normalization layer. Each branch's convs start scaled by L^(-1/2) (L blocks,
// two layers per branch), the branch's last conv and the classifier start at
// zero, and scalar biases and a scalar multiplier stand in for the norms' affine
// parameters. Names follow the paper's code (bias1a, bias1b, bias2a, bias2b, scale).
#include "nabla/models/zoo.h"
#include "nabla/nn/layers.h"

namespace nabla::models {

/// conv3x3-ReLU-conv3x3 with scalar biases before each conv and activation and
/// a scalar multiplier on the branch, plus the shortcut, then ReLU.
class FixupBasicBlock : public nn::Module {
 public:
  FixupBasicBlock(int64_t in_channels, int64_t planes, int64_t stride);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "FixupBasicBlock"; }
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::Conv2d> downsample;  ///< conv1x1 projection when the shape changes, else null
  Tensor bias1a, bias1b, bias2a, bias2b, scale;
};

/// CIFAR-style ResNet of depth 6n+2 with Fixup blocks and no normalization.
nn::ModulePtr fixup_cifar_resnet(const ModelConfig& cfg, int64_t depth);

}  // namespace nabla::models
