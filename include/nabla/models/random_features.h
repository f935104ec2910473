#pragma once
// Random-feature models: a frozen random layer and a linear read-out fitted in
// closed form (ridge, train/ridge.h) — the extreme learning machine and random
// Fourier features, the random-feature models the kernel literature tests its
// claims with.
#include <string>

#include "nabla/models/fixed_features.h"

namespace nabla::models {

struct ModelConfig;

/// phi(x) of flattened inputs x [N, d] (any floating or u8 dtype; NaN reads as 0):
/// kind "relu" (an extreme learning machine): relu(W x / sqrt(d) + b), W, b ~ N(0, 1);
/// kind "fourier" (Rahimi & Recht 2007): sqrt(2 / D) cos(W x / sigma + b), W ~ N(0, 1),
/// b ~ U(0, 2 pi), whose inner products approximate the Gaussian kernel
/// exp(-|x - x'|^2 / (2 sigma^2)); fit() sets sigma to the median distance between
/// training inputs (on up to 1,000 of them) unless it was given.
/// Buffers: weight [D, d], bias [D], inv_sigma [] (fourier).
class RandomFeatures : public FixedFeatureModel {
 public:
  RandomFeatures(int64_t in_features, int64_t num_features, int64_t outputs, const std::string& kind,
                 double sigma = 0, uint64_t seed = 0);
  Tensor transform(const Tensor& x) const override;
  void fit(const Tensor& x) override;
  std::string type_name() const override { return "RandomFeatures"; }
  std::string extra_repr() const override;
  Tensor weight, bias, inv_sigma;
  std::string kind;
  bool sigma_given;
};

/// The zoo entries "elm" and "rff": cfg.kernels random features (0: 2,000), seeded by cfg.kernel_seed.
nn::ModulePtr elm(const ModelConfig& cfg);
nn::ModulePtr rff(const ModelConfig& cfg);

}  // namespace nabla::models
