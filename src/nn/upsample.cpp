#include "nabla/nn/upsample.h"

#include <fmt/format.h>

#include "nabla/ops/norm.h"

namespace nabla::nn {

namespace {
InterpolateOptions checked_options(InterpolateMode mode, bool align_corners) {
  NABLA_CHECK(!(mode == InterpolateMode::nearest && align_corners),
              "Upsample: align_corners only applies to bilinear mode");
  return InterpolateOptions{mode, align_corners};
}
}  // namespace

Upsample::Upsample(double s, InterpolateMode mode, bool align_corners)
    : scale_factor(s), options(checked_options(mode, align_corners)) {
  NABLA_CHECK(s > 0, "Upsample: scale_factor must be positive, got {}", s);
}

Upsample::Upsample(std::array<int64_t, 2> sz, InterpolateMode mode, bool align_corners)
    : size(sz), options(checked_options(mode, align_corners)) {
  NABLA_CHECK(sz[0] > 0 && sz[1] > 0, "Upsample: size must be positive, got {}x{}", sz[0], sz[1]);
}

Tensor Upsample::forward(const Tensor& x) {
  if (size) return interpolate(x, *size, options);
  return interpolate(x, std::array<double, 2>{*scale_factor, *scale_factor}, options);
}

std::string Upsample::extra_repr() const {
  std::string what = size ? fmt::format("size=({}, {})", (*size)[0], (*size)[1])
                          : fmt::format("scale_factor={}", *scale_factor);
  return fmt::format("{}, mode='{}'", what, options.mode.name());
}

DropPath::DropPath(double p) : p(p) { NABLA_CHECK(p >= 0 && p < 1, "DropPath: p must be in [0, 1), got {}", p); }
Tensor DropPath::forward(const Tensor& x) { return drop_path(x, p, training_); }
std::string DropPath::extra_repr() const { return fmt::format("p={}", p); }

}  // namespace nabla::nn
