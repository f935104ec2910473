#pragma once
// Training of the fixed-feature models (models/fixed_features.h: ROCKET,
// MiniRocket, random features): fit the transform, compute the training features
// once, fit the linear read-out in
// closed form (ridge with leave-one-out cross-validation) or by SGD (logistic
// regression), then evaluate on the test split.
#include <string>

#include "nabla/data/dataset.h"
#include "nabla/nn/module.h"

namespace nabla::train {

struct TrainConfig;

/// What fit_feature_model did, with its timings.
struct FeatureFitResult {
  std::string classifier;  ///< "ridge" or "logistic"
  double alpha = 0;        ///< ridge: the alpha chosen
  int64_t features = 0;
  double transform_seconds = 0;  ///< fitting the transform and computing the training features
  double fit_seconds = 0;        ///< the read-out
  double test_seconds = 0;       ///< transform + read-out of the test split
  double train_accuracy = 0, test_accuracy = 0, test_loss = 0, test_ece = 0;
};

/// Fits `model` (a models::FixedFeatureModel) to d.train and evaluates it on
/// d.test. cfg.classifier: "ridge", "logistic", or "auto" (ridge up to 10,000
/// training examples, logistic above, as the MiniRocket authors advise); the logistic
/// read-out trains cfg.epochs epochs at cfg.lr in batches of cfg.batch_size.
/// Progress lines go to stderr when cfg.progress.
FeatureFitResult fit_feature_model(nn::Module& model, const data::Splits& d, const TrainConfig& cfg);

}  // namespace nabla::train
