#pragma once
// Residual networks: the blocks (basic, bottleneck, pre-activation) and one
// builder that makes ResNet-18/34/50, the CIFAR ResNets, pre-activation ResNets,
// Wide ResNets and ResNeXts from a spec. Parameter names follow torchvision
// (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, fc) so weights load unchanged.
#include <vector>

#include "nabla/models/zoo.h"
#include "nabla/nn/container.h"
#include "nabla/nn/layers.h"
#include "nabla/nn/upsample.h"

namespace nabla::models {

/// How one residual block is built.
struct BlockOptions {
  int64_t groups = 1;        ///< Bottleneck: groups of the 3x3 conv (ResNeXt's cardinality)
  int64_t base_width = 64;   ///< Bottleneck: channels per group at 64 planes (ResNeXt's bottleneck width)
  double drop_path = 0.0;    ///< stochastic depth: probability of dropping this block's branch
  double dropout = 0.0;      ///< PreActBlock: dropout between its two convs (Wide ResNet)
};

/// A block computing x + F(x) (or a projection of x when the shape changes).
class ResidualBlock : public nn::Module {
 public:
  /// Zeroes the last norm of F (the last conv where F has no final norm), so
  /// the block starts as the identity (Goyal et al. 2017).
  virtual void zero_init_residual() = 0;
  std::shared_ptr<nn::Module> downsample;  ///< projection shortcut; null for the identity
  std::shared_ptr<nn::DropPath> drop_path;  ///< null when the block is never dropped

 protected:
  /// Registers the projection shortcut (conv1x1, with BN if `norm`) when the
  /// block changes shape, and the DropPath when `drop_rate` > 0.
  void init_shortcut(int64_t cin, int64_t cout, int64_t stride, bool norm, double drop_rate);
  /// The branch output after stochastic depth.
  Tensor branch(const Tensor& f) const { return drop_path ? drop_path->forward(f) : f; }
};

/// conv3x3-BN-ReLU-conv3x3-BN plus the shortcut, then ReLU (torchvision's BasicBlock).
class BasicBlock : public ResidualBlock {
 public:
  static constexpr int64_t expansion = 1;
  BasicBlock(int64_t in_channels, int64_t planes, int64_t stride, const BlockOptions& opts = {});
  Tensor forward(const Tensor& x) override;
  void zero_init_residual() override;
  std::string type_name() const override { return "BasicBlock"; }
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
};

/// conv1x1-BN-ReLU-conv3x3(stride, groups)-BN-ReLU-conv1x1(4x)-BN plus the
/// shortcut, then ReLU (torchvision's Bottleneck, "ResNet v1.5").
class Bottleneck : public ResidualBlock {
 public:
  static constexpr int64_t expansion = 4;
  Bottleneck(int64_t in_channels, int64_t planes, int64_t stride, const BlockOptions& opts = {});
  Tensor forward(const Tensor& x) override;
  void zero_init_residual() override;
  std::string type_name() const override { return "Bottleneck"; }
  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
};

/// Pre-activation block (He et al. 2016, "Identity mappings"): BN-ReLU-conv3x3-
/// BN-ReLU-[dropout]-conv3x3 plus the shortcut, with no ReLU after the sum. A
/// projection shortcut reads the pre-activated input.
class PreActBlock : public ResidualBlock {
 public:
  static constexpr int64_t expansion = 1;
  PreActBlock(int64_t in_channels, int64_t planes, int64_t stride, const BlockOptions& opts = {});
  Tensor forward(const Tensor& x) override;
  void zero_init_residual() override;
  std::string type_name() const override { return "PreActBlock"; }
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  double dropout;
};

/// What a residual network is made of.
struct ResNetSpec {
  std::string block = "basic";    ///< basic | bottleneck | preact
  std::vector<int64_t> layers;    ///< blocks per stage
  std::vector<int64_t> widths;    ///< planes per stage; the first stage has stride 1, the others 2
  std::string stem = "imagenet";  ///< imagenet: conv7x7/2-BN-ReLU-maxpool3x3/2; small: conv3x3/1(-BN-ReLU)
  int64_t stem_width = 64;
  int64_t groups = 1, base_width = 64;  ///< Bottleneck (ResNeXt)
  double drop_path = 0.0;  ///< rate of the last block; block l of L gets drop_path * l / L
  double dropout = 0.0;    ///< PreActBlock
  bool zero_init_residual = false;
};

/// Builds a residual network for `cfg` (input channels, classes). Children, in
/// order: conv1, [bn1, relu], [maxpool], layer1..layerN, [bn, relu for
/// pre-activation nets], avgpool, flatten, fc. Convs start He-normal (fan-out),
/// norms at weight 1 and bias 0, as torchvision does.
nn::ModulePtr resnet(const ModelConfig& cfg, const ResNetSpec& spec);

/// torchvision's ResNet-18/34/50 (ImageNet stem unless cfg.stem is "small").
nn::ModulePtr resnet18(const ModelConfig& cfg);
nn::ModulePtr resnet34(const ModelConfig& cfg);
nn::ModulePtr resnet50(const ModelConfig& cfg);
/// CIFAR-style ResNet of depth 6n+2 (He et al. 2016, section 4.2): 3x3 stem of
/// 16 channels, three stages of n basic blocks (16, 32, 64 channels), projection shortcuts.
nn::ModulePtr cifar_resnet(const ModelConfig& cfg, int64_t depth);
/// Pre-activation ResNet-18 for small images (4 stages, 64-512 channels).
nn::ModulePtr preact_resnet18(const ModelConfig& cfg);
/// Wide ResNet WRN-depth-k (Zagoruyko & Komodakis 2016): pre-activation
/// blocks, (depth-4)/6 per stage, widths 16k, 32k, 64k; cfg.dropout inside blocks.
nn::ModulePtr wide_resnet(const ModelConfig& cfg, int64_t depth, int64_t k);
/// ResNeXt-29 for small images (Xie et al. 2017): 3 stages of 3 bottlenecks,
/// `cardinality` groups of `width` channels in the first stage.
nn::ModulePtr resnext29(const ModelConfig& cfg, int64_t cardinality, int64_t width);
/// torchvision's ResNeXt-50 32x4d.
nn::ModulePtr resnext50_32x4d(const ModelConfig& cfg);

/// He-normal (fan-out, ReLU gain) for every conv of `m`, weight 1 and bias 0
/// for every norm: the initialization of torchvision's residual nets.
void init_conv_norm(nn::Module& m);

}  // namespace nabla::models
