#pragma once
// Models that are a fixed, untrained transform followed by a linear read-out:
// the random-kernel time-series transforms (models/rocket.h) and the
// random-feature models (models/random_features.h). Their read-out is fitted in
// closed form or by SGD on features computed once (train/fit_features.h).
#include <memory>

#include "nabla/nn/layers.h"
#include "nabla/nn/module.h"

namespace nabla::models {

/// A fixed transform and a Linear read-out `head` (registered as "head"):
/// forward(x) = head(transform(x)). The transform's parameters are buffers.
class FixedFeatureModel : public nn::Module {
 public:
  /// Features [N, F] of a batch of inputs; not differentiable (no autograd through it).
  virtual Tensor transform(const Tensor& x) const = 0;
  /// Fits the data-dependent part of the transform to training inputs (a no-op where there is none).
  virtual void fit(const Tensor& x) { (void)x; }
  Tensor forward(const Tensor& x) override { return (*head)(transform(x)); }
  std::shared_ptr<nn::Linear> head;
};

/// m as a FixedFeatureModel, or null.
inline FixedFeatureModel* fixed_features(nn::Module& m) { return dynamic_cast<FixedFeatureModel*>(&m); }

}  // namespace nabla::models
