#pragma once
// Deep baselines for time-series classification (Wang, Yan & Oates 2017,
// "Time series classification from scratch with deep neural networks"): the
// fully convolutional network and the residual network, both ending in global
// average pooling over time. Input [N, C, L] (f32); missing values and the NaN
// padding of shorter series (data/timeseries.h) read as 0, which is the series'
// mean after standardization.
#include <memory>

#include "nabla/nn/layers.h"
#include "nabla/nn/module.h"

namespace nabla::models {

struct ModelConfig;

/// FCN: three blocks of Conv1d ('same', kernels 8, 5, 3; 128, 256, 128 channels), BatchNorm1d and ReLU,
/// global average pooling, Linear to the classes.
class TimeSeriesFCN : public nn::Module {
 public:
  TimeSeriesFCN(int64_t channels, int64_t num_classes);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "TimeSeriesFCN"; }
  std::shared_ptr<nn::Conv1d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm1d> bn1, bn2, bn3;
  std::shared_ptr<nn::Linear> fc;
};

/// One residual block: three Conv1d+BatchNorm1d (kernels 8, 5, 3, ReLU between), a shortcut of a
/// 1x1 Conv1d + BatchNorm1d when the width changes (BatchNorm1d alone otherwise), ReLU after the sum.
class TimeSeriesResBlock : public nn::Module {
 public:
  TimeSeriesResBlock(int64_t in, int64_t out);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "TimeSeriesResBlock"; }
  std::shared_ptr<nn::Conv1d> conv1, conv2, conv3, shortcut_conv;
  std::shared_ptr<nn::BatchNorm1d> bn1, bn2, bn3, shortcut_bn;
};

/// ResNet: blocks of 64, 128, 128 channels, global average pooling, Linear to the classes.
class TimeSeriesResNet : public nn::Module {
 public:
  TimeSeriesResNet(int64_t channels, int64_t num_classes);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "TimeSeriesResNet"; }
  std::shared_ptr<TimeSeriesResBlock> block1, block2, block3;
  std::shared_ptr<nn::Linear> fc;
};

/// The zoo entries ("fcn", "resnet-ts"): input_shape [C, L].
nn::ModulePtr timeseries_fcn(const ModelConfig& cfg);
nn::ModulePtr timeseries_resnet(const ModelConfig& cfg);

}  // namespace nabla::models
