#include "nabla/models/timeseries_nets.h"

#include "nabla/models/zoo.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"

namespace nabla::models {

namespace {

std::shared_ptr<nn::Conv1d> same_conv(int64_t in, int64_t out, int64_t k) {
  return std::make_shared<nn::Conv1d>(in, out, k, 1, 0, 1, 1, true, true);
}

// NaN (missing values, padding) as 0; the check of the input's shape names the model.
Tensor series_input(const Tensor& x, int64_t channels, const char* who) {
  NABLA_CHECK(x.dim() == 3 && x.size(1) == channels, "{}: expected series [N, {}, L], got {}", who, channels,
              shape_str(x.sizes()));
  return masked_fill(x, ne(x, x), 0.0);
}

int64_t series_channels(const ModelConfig& cfg, const char* who) {
  NABLA_CHECK(cfg.input_shape.size() == 2,
              "{}: reads series [C, L]; got examples of shape {} (time-series data: --data ucr:DIR, cbf, "
              "synthetic-control, two-patterns, fashion-mnist-series)", who, shape_str(cfg.input_shape));
  return cfg.input_shape[0];
}

}  // namespace

TimeSeriesFCN::TimeSeriesFCN(int64_t channels, int64_t num_classes) {
  conv1 = register_module("conv1", same_conv(channels, 128, 8));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm1d>(128));
  conv2 = register_module("conv2", same_conv(128, 256, 5));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm1d>(256));
  conv3 = register_module("conv3", same_conv(256, 128, 3));
  bn3 = register_module("bn3", std::make_shared<nn::BatchNorm1d>(128));
  fc = register_module("fc", std::make_shared<nn::Linear>(128, num_classes));
}

Tensor TimeSeriesFCN::forward(const Tensor& input) {
  Tensor x = series_input(input, conv1->in_channels, "fcn");
  x = relu((*bn1)((*conv1)(x)));
  x = relu((*bn2)((*conv2)(x)));
  x = relu((*bn3)((*conv3)(x)));
  return (*fc)(mean(x, {2}));
}

TimeSeriesResBlock::TimeSeriesResBlock(int64_t in, int64_t out) {
  conv1 = register_module("conv1", same_conv(in, out, 8));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm1d>(out));
  conv2 = register_module("conv2", same_conv(out, out, 5));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm1d>(out));
  conv3 = register_module("conv3", same_conv(out, out, 3));
  bn3 = register_module("bn3", std::make_shared<nn::BatchNorm1d>(out));
  if (in != out) shortcut_conv = register_module("shortcut_conv", std::make_shared<nn::Conv1d>(in, out, 1));
  shortcut_bn = register_module("shortcut_bn", std::make_shared<nn::BatchNorm1d>(out));
}

Tensor TimeSeriesResBlock::forward(const Tensor& x) {
  Tensor y = relu((*bn1)((*conv1)(x)));
  y = relu((*bn2)((*conv2)(y)));
  y = (*bn3)((*conv3)(y));
  Tensor s = (*shortcut_bn)(shortcut_conv ? (*shortcut_conv)(x) : x);
  return relu(y + s);
}

TimeSeriesResNet::TimeSeriesResNet(int64_t channels, int64_t num_classes) {
  block1 = register_module("block1", std::make_shared<TimeSeriesResBlock>(channels, 64));
  block2 = register_module("block2", std::make_shared<TimeSeriesResBlock>(64, 128));
  block3 = register_module("block3", std::make_shared<TimeSeriesResBlock>(128, 128));
  fc = register_module("fc", std::make_shared<nn::Linear>(128, num_classes));
}

Tensor TimeSeriesResNet::forward(const Tensor& input) {
  Tensor x = series_input(input, block1->conv1->in_channels, "resnet-ts");
  x = (*block3)((*block2)((*block1)(x)));
  return (*fc)(mean(x, {2}));
}

nn::ModulePtr timeseries_fcn(const ModelConfig& cfg) {
  return std::make_shared<TimeSeriesFCN>(series_channels(cfg, "fcn"), cfg.num_classes);
}

nn::ModulePtr timeseries_resnet(const ModelConfig& cfg) {
  return std::make_shared<TimeSeriesResNet>(series_channels(cfg, "resnet-ts"), cfg.num_classes);
}

}  // namespace nabla::models
