#pragma once
// Random convolutional kernels for time-series classification: ROCKET
// (Dempster, Petitjean & Webb 2020) and MiniRocket (Dempster, Schmidt & Webb
// 2021), with the multivariate forms of sktime's implementations.
//
// Each model is a fixed transform of series [N, C, L] (f32; a shorter series
// NaN-padded at its end, data/timeseries.h) into features, followed by a linear
// read-out `head` (Linear(num_features, classes)). The transform's parameters are
// buffers, so a state_dict (and a checkpoint) rebuilds the model exactly; the read-out
// is fitted in closed form (train/ridge.h) or by SGD. Series are read over their own
// lengths: no padding enters a feature.
#include <memory>

#include "nabla/models/fixed_features.h"

namespace nabla::models {

struct ModelConfig;

/// Options of both transforms.
struct RocketOptions {
  int64_t num_kernels = 10000;  ///< ROCKET: kernels (2 features each); MiniRocket: features wanted
  uint64_t seed = 0;            ///< the kernels' (ROCKET) or channel subsets' and examples' (MiniRocket) draws
  /// 1: z-normalize each series (each channel) over its own length first; 0: read it as it is;
  /// -1: the model's default (ROCKET normalizes, as sktime's; MiniRocket does not, as its reference).
  int normalize = -1;
  int64_t max_dilations_per_kernel = 32;  ///< MiniRocket
};

/// ROCKET: num_kernels kernels of length 7, 9 or 11, weights N(0, 1) mean-centred
/// per channel, bias U(-1, 1), dilation floor(2^U(0, log2((L - 1) / (length - 1)))),
/// padding (length - 1) dilation / 2 with probability 1/2; each kernel spans
/// floor(2^U(0, log2(min(C, length) + 1))) random channels (all of one, univariate).
/// Features: per kernel the proportion of positive values (PPV) and the max.
/// Buffers: lengths, dilations, paddings, num_channels, channels, weights, biases.
class Rocket : public FixedFeatureModel {
 public:
  /// Kernels drawn for series of `channels` channels of (at most) `length` steps.
  Rocket(int64_t channels, int64_t length, int64_t num_classes, const RocketOptions& o = {});
  /// Features [N, 2 num_kernels] of series [N, C, L] (f32; L may differ from the constructor's).
  Tensor transform(const Tensor& x) const override;
  int64_t num_features() const { return 2 * lengths.size(0); }
  std::string type_name() const override { return "Rocket"; }
  std::string extra_repr() const override;

  Tensor lengths, dilations, paddings, num_channels, channels, weights, biases;
  bool normalize;
  int64_t in_channels;
};

/// MiniRocket: the 84 length-9 kernels with weights -1 and 2 (three taps at 2),
/// dilations 2^linspace(0, log2((L - 1) / 8), min(F / 84, 32)) made unique with
/// their feature counts, padding alternating per kernel and feature, biases at the
/// low-discrepancy quantiles (i phi mod 1) of a kernel's response on a random
/// training series (fit()); PPV features only, num_features rounded down to a
/// multiple of 84. Multivariate: each (dilation, kernel) pair sums its response over
/// floor(2^U(0, log2(min(C, 9) + 1))) random channels.
/// Buffers: dilations, features_per_dilation, num_channels, channels, biases.
class MiniRocket : public FixedFeatureModel {
 public:
  MiniRocket(int64_t channels, int64_t length, int64_t num_classes, const RocketOptions& o = {});
  /// Fits the biases to training series x [N, C, L] (f32).
  void fit(const Tensor& x) override;
  Tensor transform(const Tensor& x) const override;
  int64_t num_features() const { return biases.size(0); }
  std::string type_name() const override { return "MiniRocket"; }
  std::string extra_repr() const override;

  Tensor dilations, features_per_dilation, num_channels, channels, biases;
  bool normalize;
  int64_t in_channels;
  uint64_t seed;
};

/// The zoo entries: input_shape [C, L]; cfg.kernels (0: 10,000) and cfg.kernel_seed.
nn::ModulePtr rocket(const ModelConfig& cfg);
nn::ModulePtr minirocket(const ModelConfig& cfg);

}  // namespace nabla::models
