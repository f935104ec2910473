#pragma once
// U-Net (Ronneberger et al. 2015) for per-pixel classification: an encoder of
// double convolutions and 2x2 max pools, a decoder that upsamples (transposed
// conv, or bilinear upsampling + 1x1 conv) and concatenates the encoder's
// feature map of the same scale, and a 1x1 conv to class logits [N, K, H, W].
// Inputs of any size work: an upsampled map is padded to its skip's size.
#include "nabla/models/zoo.h"
#include "nabla/nn/container.h"
#include "nabla/nn/layers.h"

namespace nabla::models {

/// (conv3x3-BN-ReLU) twice.
class DoubleConv : public nn::Sequential {
 public:
  DoubleConv(int64_t in_channels, int64_t out_channels);
  std::string type_name() const override { return "DoubleConv"; }
};

/// One decoder step: upsample x to half its channels, join the skip, DoubleConv.
class UNetUp : public nn::Module {
 public:
  UNetUp(int64_t in_channels, int64_t out_channels, bool bilinear);
  /// Runs on the coarser map; `skip` is the encoder map to join.
  Tensor forward(const Tensor& x, const Tensor& skip);
  std::string type_name() const override { return "UNetUp"; }
  std::shared_ptr<nn::Module> up;
  std::shared_ptr<DoubleConv> conv;
};

/// What a U-Net is made of.
struct UNetSpec {
  int64_t base_channels = 32;  ///< channels of the first level; doubled at each level down
  int64_t depth = 3;           ///< number of 2x down-samplings
  bool bilinear = false;       ///< bilinear upsampling + 1x1 conv instead of ConvTranspose2d
};

/// A U-Net for `cfg`: input channels from cfg.input_shape, cfg.num_classes output maps.
nn::ModulePtr unet(const ModelConfig& cfg, const UNetSpec& spec = {});

}  // namespace nabla::models
