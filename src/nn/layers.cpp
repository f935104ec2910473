#include "nabla/nn/layers.h"

#include <cmath>

#include "nabla/nn/init.h"
#include "nabla/ops/index.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/norm.h"
#include "nabla/tensor/factory.h"

namespace nabla::nn {

namespace {

// PyTorch's default for Linear and Conv: kaiming_uniform(a = sqrt(5)) on the
// weight, which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias.
void reset_like_pytorch(Tensor& weight, Tensor& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    int64_t fan_in = init::calculate_fans(weight).first;
    double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

}  // namespace

Linear::Linear(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
  NABLA_CHECK(in > 0 && out > 0, "Linear: sizes must be positive, got in_features={} out_features={}", in, out);
  register_parameter("weight", weight, empty({out, in}));
  if (with_bias) register_parameter("bias", bias, empty({out}));
  reset_like_pytorch(weight, bias);
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", in_features, out_features, bias.defined());
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding, int64_t dilation, int64_t groups,
               bool with_bias)
    : Conv2d(in, out, ConvOptions{{k, k}, {stride, stride}, {padding, padding}, {dilation, dilation}, groups,
                                  with_bias, false}) {}

Conv2d::Conv2d(const Conv2dOptions& o)
    : Conv2d(o.in_channels(), o.out_channels(),
             ConvOptions{o.kernel_size().v, o.stride().v, o.padding().v, o.dilation().v, o.groups(), o.bias(),
                         o.same_padding()}) {}

Conv2d::Conv2d(int64_t in, int64_t out, const ConvOptions& o) : in_channels(in), out_channels(out), options(o) {
  NABLA_CHECK(in > 0 && out > 0 && o.groups > 0 && in % o.groups == 0 && out % o.groups == 0,
              "Conv2d: in_channels {} and out_channels {} must be positive multiples of groups {}", in, out, o.groups);
  NABLA_CHECK(!o.same || (o.stride[0] == 1 && o.stride[1] == 1), "Conv2d: padding='same' needs stride 1");
  register_parameter("weight", weight, empty({out, in / o.groups, o.kernel_size[0], o.kernel_size[1]}));
  if (o.bias) register_parameter("bias", bias, empty({out}));
  reset_like_pytorch(weight, bias);
}

Conv2dParams Conv2d::params() const {
  Conv2dParams p;
  p.stride = options.stride;
  p.dilation = options.dilation;
  p.groups = options.groups;
  if (options.same) {
    auto h = same_padding(options.kernel_size[0], options.dilation[0]);
    auto w = same_padding(options.kernel_size[1], options.dilation[1]);
    p.padding = {h[0], h[1], w[0], w[1]};
  } else {
    p.padding = {options.padding[0], options.padding[0], options.padding[1], options.padding[1]};
  }
  return p;
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, params()); }

std::string Conv2d::extra_repr() const {
  std::string s = fmt::format("{}, {}, kernel_size=({}, {}), stride=({}, {})", in_channels, out_channels,
                              options.kernel_size[0], options.kernel_size[1], options.stride[0], options.stride[1]);
  if (options.same)
    s += ", padding=same";
  else if (options.padding != std::array<int64_t, 2>{0, 0})
    s += fmt::format(", padding=({}, {})", options.padding[0], options.padding[1]);
  if (options.dilation != std::array<int64_t, 2>{1, 1})
    s += fmt::format(", dilation=({}, {})", options.dilation[0], options.dilation[1]);
  if (options.groups != 1) s += fmt::format(", groups={}", options.groups);
  if (!options.bias) s += ", bias=False";
  return s;
}

Conv1d::Conv1d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding, int64_t dilation, int64_t groups,
               bool with_bias, bool same)
    : in_channels(in), out_channels(out), kernel_size(k), stride(stride), padding(padding), dilation(dilation),
      groups(groups), same(same) {
  NABLA_CHECK(in > 0 && out > 0 && groups > 0 && in % groups == 0 && out % groups == 0,
              "Conv1d: in_channels {} and out_channels {} must be positive multiples of groups {}", in, out, groups);
  NABLA_CHECK(!same || stride == 1, "Conv1d: padding='same' needs stride 1");
  register_parameter("weight", weight, empty({out, in / groups, k}));
  if (with_bias) register_parameter("bias", bias, empty({out}));
  reset_like_pytorch(weight, bias);
}

Tensor Conv1d::forward(const Tensor& x) {
  std::array<int64_t, 2> pad = same ? same_padding(kernel_size, dilation) : std::array<int64_t, 2>{padding, padding};
  return conv1d(x, weight, bias, stride, pad, dilation, groups);
}

std::string Conv1d::extra_repr() const {
  return fmt::format("{}, {}, kernel_size=({},), stride=({},)", in_channels, out_channels, kernel_size, stride);
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding,
                                 int64_t output_padding, int64_t groups, bool with_bias, int64_t dilation)
    : in_channels(in), out_channels(out), kernel_size(k), stride(stride), padding(padding),
      output_padding(output_padding), groups(groups), dilation(dilation) {
  NABLA_CHECK(in > 0 && out > 0 && groups > 0 && in % groups == 0 && out % groups == 0,
              "ConvTranspose2d: in_channels {} and out_channels {} must be positive multiples of groups {}", in, out,
              groups);
  register_parameter("weight", weight, empty({in, out / groups, k, k}));
  if (with_bias) register_parameter("bias", bias, empty({out}));
  reset_like_pytorch(weight, bias);
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return conv_transpose2d(x, weight, bias, {stride, stride}, {padding, padding}, {output_padding, output_padding},
                          groups, {dilation, dilation});
}

std::string ConvTranspose2d::extra_repr() const {
  return fmt::format("{}, {}, kernel_size=({}, {}), stride=({}, {})", in_channels, out_channels, kernel_size,
                     kernel_size, stride, stride);
}

MaxPool2d::MaxPool2d(int64_t k, int64_t stride, int64_t padding, bool ceil_mode) {
  params.kernel = {k, k};
  params.stride = {stride == 0 ? k : stride, stride == 0 ? k : stride};
  params.padding = {padding, padding};
  params.ceil_mode = ceil_mode;
}

namespace {
Pool2dParams pool_params(const Pool2dOptions& o) {
  Pool2dParams p;
  p.kernel = o.kernel_size().v;
  p.stride = o.stride().v;
  p.padding = o.padding().v;
  p.ceil_mode = o.ceil_mode();
  p.count_include_pad = o.count_include_pad();
  return p;
}
}  // namespace

MaxPool2d::MaxPool2d(const Pool2dOptions& o) : params(pool_params(o)) {}
AvgPool2d::AvgPool2d(const Pool2dOptions& o) : params(pool_params(o)) {}

std::string MaxPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}", params.kernel[0], params.stride[0], params.padding[0]);
}

AvgPool2d::AvgPool2d(int64_t k, int64_t stride, int64_t padding, bool ceil_mode, bool count_include_pad) {
  params.kernel = {k, k};
  params.stride = {stride == 0 ? k : stride, stride == 0 ? k : stride};
  params.padding = {padding, padding};
  params.ceil_mode = ceil_mode;
  params.count_include_pad = count_include_pad;
}

std::string AvgPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}", params.kernel[0], params.stride[0], params.padding[0]);
}

std::string AdaptiveAvgPool2d::extra_repr() const {
  return fmt::format("output_size=({}, {})", output_size[0], output_size[1]);
}

BatchNorm::BatchNorm(int64_t n, double eps, double momentum, bool affine, bool track)
    : num_features(n), eps(eps), momentum(momentum) {
  NABLA_CHECK(n > 0, "BatchNorm: num_features must be positive, got {}", n);
  if (affine) {
    register_parameter("weight", weight, ones({n}));
    register_parameter("bias", bias, zeros({n}));
  }
  if (track) {
    register_buffer("running_mean", running_mean, zeros({n}));
    register_buffer("running_var", running_var, ones({n}));
    register_buffer("num_batches_tracked", num_batches_tracked, zeros({}, DType::i64));
  }
}

void BatchNorm::validate(const Tensor& x) const {
  check_input(x);
  NABLA_CHECK(x.sizes()[1] == num_features, "{}: expected input [N, {}, ...] ({} features), got {}", type_name(),
              num_features, num_features, shape_str(x.sizes()));
}

Tensor BatchNorm::forward(const Tensor& x) {
  validate(x);
  bool use_batch_stats = training_ || !running_mean.defined();
  if (training_ && num_batches_tracked.defined()) num_batches_tracked.add_(1.0);
  return batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats, momentum, eps);
}

std::string BatchNorm::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", num_features, eps, momentum,
                     weight.defined(), running_mean.defined());
}

void BatchNorm1d::check_input(const Tensor& x) const {
  NABLA_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected input [N, C] or [N, C, L], got {}",
              shape_str(x.sizes()));
}

void BatchNorm2d::check_input(const Tensor& x) const {
  NABLA_CHECK(x.dim() == 4, "BatchNorm2d: expected input [N, C, H, W], got {}", shape_str(x.sizes()));
}

LayerNorm::LayerNorm(Shape shape, double eps, bool affine) : normalized_shape(std::move(shape)), eps(eps) {
  if (affine) {
    register_parameter("weight", weight, ones(normalized_shape));
    register_parameter("bias", bias, zeros(normalized_shape));
  }
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, normalized_shape, weight, bias, eps); }

std::string LayerNorm::extra_repr() const {
  return fmt::format("({}), eps={}", fmt::join(normalized_shape, ", "), eps);
}

RMSNorm::RMSNorm(Shape shape, std::optional<double> eps, bool affine) : normalized_shape(std::move(shape)), eps(eps) {
  if (affine) register_parameter("weight", weight, ones(normalized_shape));
}

Tensor RMSNorm::forward(const Tensor& x) { return rms_norm(x, normalized_shape, weight, eps); }

std::string RMSNorm::extra_repr() const {
  return fmt::format("({}), eps={}, elementwise_affine={}", fmt::join(normalized_shape, ", "),
                     eps ? fmt::format("{}", *eps) : "None", weight.defined() ? "True" : "False");
}

GroupNorm::GroupNorm(int64_t groups, int64_t channels, double eps, bool affine)
    : num_groups(groups), num_channels(channels), eps(eps) {
  NABLA_CHECK(groups > 0 && channels % groups == 0, "GroupNorm: {} channels are not divisible into {} groups",
              channels, groups);
  if (affine) {
    register_parameter("weight", weight, ones({channels}));
    register_parameter("bias", bias, zeros({channels}));
  }
}

Tensor GroupNorm::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() >= 2 && x.sizes()[1] == num_channels, "GroupNorm: expected input [N, {}, ...], got {}",
              num_channels, shape_str(x.sizes()));
  return group_norm(x, num_groups, weight, bias, eps);
}

std::string GroupNorm::extra_repr() const { return fmt::format("{}, {}, eps={}", num_groups, num_channels, eps); }

Dropout::Dropout(double p) : p(p) {
  NABLA_CHECK(p >= 0 && p <= 1, "Dropout: p must be in [0, 1], got {}", p);
}
Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, training_); }
std::string Dropout::extra_repr() const { return fmt::format("p={}", p); }

Dropout2d::Dropout2d(double p) : p(p) {
  NABLA_CHECK(p >= 0 && p <= 1, "Dropout2d: p must be in [0, 1], got {}", p);
}
Tensor Dropout2d::forward(const Tensor& x) { return dropout2d(x, p, training_); }
std::string Dropout2d::extra_repr() const { return fmt::format("p={}", p); }

Embedding::Embedding(int64_t n, int64_t d) : num_embeddings(n), embedding_dim(d) {
  NABLA_CHECK(n > 0 && d > 0, "Embedding: sizes must be positive, got {} x {}", n, d);
  register_parameter("weight", weight, empty({n, d}));
  init::normal_(weight);
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices); }
std::string Embedding::extra_repr() const { return fmt::format("{}, {}", num_embeddings, embedding_dim); }

}  // namespace nabla::nn
