#pragma once
// The standard layers. Constructor arguments, parameter names and default
// initialization follow PyTorch, so state_dicts are interchangeable.
#include <array>
#include <optional>
#include <string>

#include "nabla/nn/module.h"
#include "nabla/nn/options.h"
#include "nabla/ops/conv.h"
#include "nabla/ops/pool.h"

namespace nabla::nn {

/// y = x W^T + b. weight [out, in], bias [out].
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  explicit Linear(const LinearOptions& o) : Linear(o.in_features(), o.out_features(), o.bias()) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  Tensor weight, bias;
  int64_t in_features, out_features;
};

/// Options of Conv1d/Conv2d. padding_mode "same" pads so the output keeps the
/// input size (stride 1 only); otherwise `padding` is used.
struct ConvOptions {
  std::array<int64_t, 2> kernel_size{3, 3};
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
  bool same = false;  ///< PyTorch's padding="same"
};

/// 2-D convolution over [N, C, H, W]. weight [out, in/groups, kh, kw].
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t padding = 0,
         int64_t dilation = 1, int64_t groups = 1, bool bias = true);
  Conv2d(int64_t in_channels, int64_t out_channels, const ConvOptions& opts);
  /// `nn::Conv2d conv(nn::Conv2dOptions(3, 16, 3).stride(2).padding(1).bias(false));`
  explicit Conv2d(const Conv2dOptions& o);
  Tensor forward(const Tensor& x) override;
  /// The op's parameters these options give (padding resolved for "same").
  Conv2dParams params() const;
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;
  Tensor weight, bias;
  int64_t in_channels, out_channels;
  ConvOptions options;
};

/// 1-D convolution over [N, C, L]. weight [out, in/groups, k]; options use index 1.
class Conv1d : public Module {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t padding = 0,
         int64_t dilation = 1, int64_t groups = 1, bool bias = true, bool same = false);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv1d"; }
  std::string extra_repr() const override;
  Tensor weight, bias;
  int64_t in_channels, out_channels, kernel_size, stride, padding, dilation, groups;
  bool same;
};

/// Transposed 2-D convolution ("deconvolution"). weight [in, out/groups, kh, kw].
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
                  int64_t padding = 0, int64_t output_padding = 0, int64_t groups = 1, bool bias = true,
                  int64_t dilation = 1);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ConvTranspose2d"; }
  std::string extra_repr() const override;
  Tensor weight, bias;
  int64_t in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, dilation;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel_size, int64_t stride = 0, int64_t padding = 0, bool ceil_mode = false);
  explicit MaxPool2d(const Pool2dParams& p) : params(p) {}
  explicit MaxPool2d(const Pool2dOptions& o);
  Tensor forward(const Tensor& x) override { return max_pool2d(x, params); }
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;
  Pool2dParams params;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel_size, int64_t stride = 0, int64_t padding = 0, bool ceil_mode = false,
                     bool count_include_pad = true);
  explicit AvgPool2d(const Pool2dOptions& o);
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, params); }
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;
  Pool2dParams params;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::array<int64_t, 2> output_size) : output_size(output_size) {}
  explicit AdaptiveAvgPool2d(int64_t s) : output_size{s, s} {}
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, output_size); }
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;
  std::array<int64_t, 2> output_size;
};

/// Batch normalization over the channel dim of [N, C, *]. Buffers:
/// running_mean, running_var, num_batches_tracked (as PyTorch's).
class BatchNorm : public Module {
 public:
  BatchNorm(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
            bool track_running_stats = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  /// Throws the layer's error for an input it does not take (rank, feature count).
  void validate(const Tensor& x) const;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  int64_t num_features;
  double eps, momentum;

 protected:
  virtual void check_input(const Tensor& x) const = 0;
};

/// BatchNorm over [N, C] or [N, C, L].
class BatchNorm1d : public BatchNorm {
 public:
  using BatchNorm::BatchNorm;
  std::string type_name() const override { return "BatchNorm1d"; }

 protected:
  void check_input(const Tensor& x) const override;
};

/// BatchNorm over [N, C, H, W].
class BatchNorm2d : public BatchNorm {
 public:
  using BatchNorm::BatchNorm;
  std::string type_name() const override { return "BatchNorm2d"; }

 protected:
  void check_input(const Tensor& x) const override;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;
  Tensor weight, bias;
  Shape normalized_shape;
  double eps;
};

/// RMS normalization over the trailing normalized_shape dims (PyTorch 2.4's
/// nn.RMSNorm): eps unset means the input dtype's machine epsilon; weight
/// (ones) when elementwise_affine.
class RMSNorm : public Module {
 public:
  explicit RMSNorm(Shape normalized_shape, std::optional<double> eps = std::nullopt, bool elementwise_affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "RMSNorm"; }
  std::string extra_repr() const override;
  Tensor weight;
  Shape normalized_shape;
  std::optional<double> eps;
};

class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GroupNorm"; }
  std::string extra_repr() const override;
  Tensor weight, bias;
  int64_t num_groups, num_channels;
  double eps;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  double p;
};

/// Drops whole channels.
class Dropout2d : public Module {
 public:
  explicit Dropout2d(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout2d"; }
  std::string extra_repr() const override;
  double p;
};

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim, end_dim); }
  std::string type_name() const override { return "Flatten"; }
  int64_t start_dim, end_dim;
};

class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

/// Lookup table: integer indices -> rows of weight [num_embeddings, embedding_dim].
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim);
  Tensor forward(const Tensor& indices) override;
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;
  Tensor weight;
  int64_t num_embeddings, embedding_dim;
};

}  // namespace nabla::nn
