#pragma once
// Resizing of [N, C, H, W] (or [C, H, W]) images: nearest and bilinear
// interpolation with PyTorch's F.interpolate coordinate conventions.
#include <array>
#include <string>

#include "nabla/tensor/named_enum.h"
#include "nabla/tensor/tensor.h"

namespace nabla {

struct InterpolateModeNames {
  enum Value { nearest, bilinear };
  static constexpr const char* kWhat = "interpolate: mode";
  static constexpr std::pair<const char*, Value> kNames[] = {{"nearest", nearest}, {"bilinear", bilinear}};
};
/// InterpolateMode::nearest or ::bilinear ("nearest", "bilinear" work too).
using InterpolateMode = NamedEnum<InterpolateModeNames>;

/// How interpolate maps output pixels to input coordinates.
struct InterpolateOptions {
  InterpolateMode mode = InterpolateMode::nearest;
  bool align_corners = false;    ///< bilinear only: corner pixels of input and output coincide
};

/// Resizes the two trailing dims to `size` (out_h, out_w).
Tensor interpolate(const Tensor& x, std::array<int64_t, 2> size, const InterpolateOptions& opts = {});
/// Resizes by a scale factor per dim; the output size is floor(in * scale),
/// and, as in PyTorch, the coordinate mapping uses 1 / scale (not in / out).
Tensor interpolate(const Tensor& x, std::array<double, 2> scale_factor, const InterpolateOptions& opts = {});

}  // namespace nabla
