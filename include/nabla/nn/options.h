#pragma once
// Layer options with chained setters, as libtorch's:
//   nn::Conv2d conv(nn::Conv2dOptions(3, 16, 3).stride(2).padding(1).bias(false));
// Each option has a setter (returns the options) and a getter of the same name.
#include <array>
#include <cstdint>
#include <initializer_list>

#include "nabla/nn/attention_variant.h"

namespace nabla::nn {

/// An option `name` of type T with default `init`: options.name(v) sets, options.name() gets.
#define NABLA_OPTION(T, name, init)       \
 public:                                  \
  auto& name(const T& v) {                \
    name##_ = v;                          \
    return *this;                         \
  }                                       \
  const T& name() const { return name##_; } \
                                          \
 private:                                 \
  T name##_ = init

/// One size for both spatial dims, or {h, w}: `3` or `{3, 5}` (libtorch's ExpandingArray<2>).
struct Size2 {
  std::array<int64_t, 2> v{0, 0};
  Size2(int64_t x) : v{x, x} {}  // NOLINT: implicit, as libtorch's
  Size2(std::initializer_list<int64_t> hw)
      : v{hw.size() ? *hw.begin() : 0, hw.size() > 1 ? hw.begin()[1] : (hw.size() ? *hw.begin() : 0)} {}
  Size2(std::array<int64_t, 2> a) : v(a) {}  // NOLINT
  int64_t operator[](size_t i) const { return v[i]; }
};

/// Linear(in_features, out_features).bias(true).
class LinearOptions {
 public:
  LinearOptions(int64_t in_features, int64_t out_features) : in_features_(in_features), out_features_(out_features) {}
  NABLA_OPTION(int64_t, in_features, 0);
  NABLA_OPTION(int64_t, out_features, 0);
  NABLA_OPTION(bool, bias, true);
};

/// Conv2d(in_channels, out_channels, kernel_size) with stride, padding, dilation, groups, bias, and
/// same_padding (PyTorch's padding="same": the output keeps the input's size, stride 1 only).
class Conv2dOptions {
 public:
  Conv2dOptions(int64_t in_channels, int64_t out_channels, Size2 kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  NABLA_OPTION(int64_t, in_channels, 0);
  NABLA_OPTION(int64_t, out_channels, 0);
  NABLA_OPTION(Size2, kernel_size, 1);
  NABLA_OPTION(Size2, stride, 1);
  NABLA_OPTION(Size2, padding, 0);
  NABLA_OPTION(Size2, dilation, 1);
  NABLA_OPTION(int64_t, groups, 1);
  NABLA_OPTION(bool, bias, true);
  NABLA_OPTION(bool, same_padding, false);
};

/// MaxPool2d(kernel_size) / AvgPool2d(kernel_size) with stride (default: the kernel), padding, ceil_mode;
/// count_include_pad for average pooling.
class Pool2dOptions {
 public:
  Pool2dOptions(Size2 kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
  NABLA_OPTION(Size2, kernel_size, 1);
  NABLA_OPTION(Size2, stride, 1);
  NABLA_OPTION(Size2, padding, 0);
  NABLA_OPTION(bool, ceil_mode, false);
  NABLA_OPTION(bool, count_include_pad, true);
};
using MaxPool2dOptions = Pool2dOptions;
using AvgPool2dOptions = Pool2dOptions;

/// MultiheadAttention(embed_dim, num_heads) with PyTorch 1.13's constructor
/// arguments; kdim/vdim 0 mean embed_dim.
class MultiheadAttentionOptions {
 public:
  MultiheadAttentionOptions(int64_t embed_dim, int64_t num_heads) : embed_dim_(embed_dim), num_heads_(num_heads) {}
  NABLA_OPTION(int64_t, embed_dim, 0);
  NABLA_OPTION(int64_t, num_heads, 1);
  NABLA_OPTION(double, dropout, 0.0);
  NABLA_OPTION(bool, bias, true);
  NABLA_OPTION(bool, add_bias_kv, false);
  NABLA_OPTION(bool, add_zero_attn, false);
  NABLA_OPTION(int64_t, kdim, 0);
  NABLA_OPTION(int64_t, vdim, 0);
  NABLA_OPTION(bool, batch_first, false);
  /// softmax (PyTorch's) or a variant; retention adds gate_proj and group_norm.
  NABLA_OPTION(AttentionVariant, attention, AttentionVariant());
};

/// The feed-forward activation of a transformer layer (PyTorch's "relu" | "gelu").
enum class TransformerActivation { relu, gelu };

/// TransformerEncoderLayer / TransformerDecoderLayer(d_model, nhead) with PyTorch 1.13's arguments.
class TransformerLayerOptions {
 public:
  TransformerLayerOptions(int64_t d_model, int64_t nhead) : d_model_(d_model), nhead_(nhead) {}
  NABLA_OPTION(int64_t, d_model, 0);
  NABLA_OPTION(int64_t, nhead, 1);
  NABLA_OPTION(int64_t, dim_feedforward, 2048);
  NABLA_OPTION(double, dropout, 0.1);
  NABLA_OPTION(TransformerActivation, activation, TransformerActivation::relu);
  NABLA_OPTION(double, layer_norm_eps, 1e-5);
  NABLA_OPTION(bool, batch_first, false);
  NABLA_OPTION(bool, norm_first, false);
  /// The self-attention's variant (cross-attention stays softmax).
  NABLA_OPTION(AttentionVariant, attention, AttentionVariant());
};
using TransformerEncoderLayerOptions = TransformerLayerOptions;
using TransformerDecoderLayerOptions = TransformerLayerOptions;

#undef NABLA_OPTION

}  // namespace nabla::nn
