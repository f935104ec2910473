#pragma once
// Linear read-outs fitted to fixed features: ridge classification with
// efficient leave-one-out cross-validation over the regularization strength
// (scikit-learn's RidgeClassifierCV), and logistic regression by minibatch Adam
// for training sets too large for a closed form. Both write their result into a
// Linear layer (weight [K, F], bias [K]) with the features' standardization folded
// in, so the layer reads raw features.
#include <functional>
#include <vector>

#include "nabla/nn/layers.h"

namespace nabla::train {

/// n values 10^a ... 10^b, evenly spaced in the exponent (numpy's logspace).
std::vector<double> logspace(double a, double b, int64_t n);

struct RidgeOptions {
  std::vector<double> alphas = logspace(-3, 3, 10);  ///< ROCKET's grid
  /// Standardize each feature with the training mean and (population) std first, as scikit-learn's
  /// StandardScaler in front of RidgeClassifierCV (a constant feature keeps scale 1).
  bool standardize = true;
};

struct RidgeResult {
  double alpha;                ///< the alpha chosen (the first best)
  std::vector<double> scores;  ///< per alpha: minus the mean squared leave-one-out error
};

/// One-vs-rest ridge classification of features X [N, F] (f32 or f64) with
/// labels y [N] (i64 in [0, K)): targets +1 for the class and -1 otherwise, an
/// unpenalized intercept, and the alpha minimizing the exact leave-one-out squared
/// error, computed for every alpha from one eigendecomposition (of X X^T when N <= F,
/// of X^T X otherwise) instead of a refit per alpha, as scikit-learn's
/// RidgeClassifierCV (gcv_mode auto, scoring None). Computes in f64. The
/// predictions are argmax(head(x)); with two classes they equal scikit-learn's,
/// which fits one column.
RidgeResult fit_ridge_classifier(nn::Linear& head, const Tensor& X, const Tensor& y, const RidgeOptions& o = {});

/// Ridge regression of targets Y [N] or [N, T] (floating) on features X [N, F] with the same
/// leave-one-out choice of alpha (scikit-learn's RidgeCV with StandardScaler); head: Linear(F, T).
RidgeResult fit_ridge_regressor(nn::Linear& head, const Tensor& X, const Tensor& Y, const RidgeOptions& o = {});

struct LogisticOptions {
  int64_t epochs = 20;
  double lr = 1e-3;          ///< Adam's, decayed by a cosine over the epochs
  int64_t batch_size = 256;
  double weight_decay = 0;   ///< L2 on the weights
  uint64_t seed = 0;         ///< the shuffles
};

/// Multinomial logistic regression of standardized features X [N, F] (f32)
/// onto y [N] by minibatch Adam (the MiniRocket authors' recommendation above
/// ~10,000 examples); `on_epoch(epoch, mean loss)` after each epoch when given.
void fit_logistic(nn::Linear& head, const Tensor& X, const Tensor& y, const LogisticOptions& o = {},
                  const std::function<void(int64_t, double)>& on_epoch = nullptr);

}  // namespace nabla::train
