#pragma once
// DenseNet-BC (Huang et al. 2017): dense blocks whose layers each see the
// concatenation of all earlier feature maps, with bottleneck (1x1) layers and
// compressing transitions. Parameter names follow torchvision
// (features.denseblock1.denselayer1.conv1, features.transition1.conv, classifier).
#include <vector>

#include "nabla/models/zoo.h"
#include "nabla/nn/container.h"

namespace nabla::models {

/// What a DenseNet is made of.
struct DenseNetSpec {
  int64_t growth_rate = 32;
  std::vector<int64_t> block_config{6, 12, 24, 16};  ///< layers per dense block
  int64_t num_init_features = 64;
  int64_t bn_size = 4;        ///< bottleneck width, in multiples of the growth rate
  double compression = 0.5;   ///< channels kept by each transition
  double drop_rate = 0.0;     ///< dropout after each dense layer
  std::string stem = "imagenet";  ///< imagenet: conv7x7/2-BN-ReLU-maxpool3x3/2; small: conv3x3/1 only
};

/// One dense layer: BN-ReLU-conv1x1(bn_size * k)-BN-ReLU-conv3x3(k) over the
/// concatenation of its inputs; returns only its k new channels.
class DenseLayer : public nn::Sequential {
 public:
  DenseLayer(int64_t in_channels, int64_t growth_rate, int64_t bn_size, double drop_rate);
  std::string type_name() const override { return "DenseLayer"; }
};

/// A dense block: each layer's output is concatenated to the running features.
class DenseBlock : public nn::Module {
 public:
  DenseBlock(int64_t num_layers, int64_t in_channels, int64_t growth_rate, int64_t bn_size, double drop_rate);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "DenseBlock"; }
};

/// A DenseNet for `cfg` (input channels, classes).
nn::ModulePtr densenet(const ModelConfig& cfg, const DenseNetSpec& spec);
/// torchvision's DenseNet-121 (growth 32, blocks 6-12-24-16); cfg.stem may pick "small".
nn::ModulePtr densenet121(const ModelConfig& cfg);
/// DenseNet-BC for small images: depth L, growth k, three blocks of (L-4)/6 layers.
nn::ModulePtr densenet_bc(const ModelConfig& cfg, int64_t depth, int64_t growth_rate);

}  // namespace nabla::models
