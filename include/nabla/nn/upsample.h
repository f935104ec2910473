#pragma once
// Resizing and per-example dropping layers used by encoder-decoder and deep
// residual networks.
#include <array>
#include <optional>

#include "nabla/nn/module.h"
#include "nabla/ops/interpolate.h"

namespace nabla::nn {

/// Resizes [N, C, H, W] by a scale factor or to a fixed size (PyTorch's nn.Upsample).
class Upsample : public Module {
 public:
  /// Scales both spatial dims by `scale_factor`.
  explicit Upsample(double scale_factor, InterpolateMode mode = InterpolateMode::nearest, bool align_corners = false);
  /// Resizes to `size` (out_h, out_w).
  explicit Upsample(std::array<int64_t, 2> size, InterpolateMode mode = InterpolateMode::nearest,
                    bool align_corners = false);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Upsample"; }
  std::string extra_repr() const override;
  std::optional<double> scale_factor;
  std::optional<std::array<int64_t, 2>> size;
  InterpolateOptions options;
};

/// Stochastic depth on a residual branch: drops the whole branch output of an
/// example with probability p while training (timm's DropPath).
class DropPath : public Module {
 public:
  explicit DropPath(double p = 0.0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "DropPath"; }
  std::string extra_repr() const override;
  double p;
};

}  // namespace nabla::nn
