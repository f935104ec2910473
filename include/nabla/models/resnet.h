#pragma once
// Residual networks.
#include "nabla/models/zoo.h"
#include "nabla/nn/layers.h"

namespace nabla::models {

/// The basic residual block: conv3x3-BN-ReLU-conv3x3-BN, plus the input (or
/// its 1x1-conv+BN projection when the shape changes: "option B"), then ReLU.
/// Parameter names follow torchvision: conv1, bn1, conv2, bn2, downsample.0/1.
class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t in_channels, int64_t out_channels, int64_t stride);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicBlock"; }
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Module> downsample;  ///< null for the identity shortcut
};

/// CIFAR-style ResNet (He et al. 2016, section 4.2): a 3x3 stem with 16
/// channels, three stages of `blocks_per_stage` blocks (16, 32, 64 channels),
/// global average pooling and a linear classifier. ResNet-20 has 3 blocks per stage.
nn::ModulePtr cifar_resnet(const ModelConfig& cfg, int64_t blocks_per_stage);

}  // namespace nabla::models
