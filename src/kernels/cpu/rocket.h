#pragma once
// ROCKET and MiniRocket transforms over raw series (models/rocket.h checks and
// owns the parameters). Series are [N, C, L] f32, contiguous; series i is read
// over its first lengths[i] steps only. Parallel over series (and, for few series,
// over kernels), on nabla's OpenMP pool.
#include <cstdint>

namespace nabla::kernels {

/// One past the last step at which any of C channels (each L values, channel_stride apart) is not NaN.
int64_t series_length(const float* x, int64_t C, int64_t L, int64_t channel_stride);

/// Readies N series [C, L] in place for the transforms: within each series' first lengths[i] steps a
/// missing value (NaN) becomes 0, after each channel is z-normalized over them ((x - mean) / (std + 1e-8),
/// as sktime) when `normalize`.
void prepare_series(float* x, int64_t N, int64_t C, int64_t L, const int64_t* lengths, bool normalize);

/// ROCKET's kernels in sktime's flat layout: kernel k has lengths[k] taps over
/// num_channels[k] channels channels[channel_offsets[k] ...], weights
/// [num_channels[k], lengths[k]] at weights + weight_offsets[k], a bias, a dilation
/// and a padding.
struct RocketKernels {
  int64_t count;
  const int64_t *lengths, *dilations, *paddings, *num_channels, *channel_offsets, *weight_offsets, *channels;
  const float *weights, *biases;
};

/// features [N, 2 count]: (PPV, max) of each kernel per series. A kernel
/// without padding whose span exceeds a short series is applied with padding.
void rocket_transform(const RocketKernels& k, const float* x, int64_t N, int64_t C, int64_t L,
                      const int64_t* lengths, float* features);

/// MiniRocket's parameters: per dilation d its features_per_dilation[d] biases
/// for each of the 84 kernels (feature order: dilation, kernel, bias), and per
/// (dilation, kernel) combination its channels channels[channel_offsets[i] ...].
struct MiniRocketParams {
  int64_t num_dilations;
  const int64_t *dilations, *features_per_dilation, *num_channels, *channel_offsets, *channels;
  const float* biases;  // one per feature
};

/// The 84 kernels' tap triples (the combinations of 3 of 9 positions, lexicographic).
const int64_t (&minirocket_triples())[84][3];

/// The number of features: 84 times the sum of features_per_dilation.
int64_t minirocket_num_features(const MiniRocketParams& p);

/// features [N, F]: the PPV of each (dilation, kernel, bias).
void minirocket_transform(const MiniRocketParams& p, const float* x, int64_t N, int64_t C, int64_t L,
                          const int64_t* lengths, float* features);

/// Fits the biases (the `biases` written, p.biases ignored): combination i takes the
/// quantiles quantiles[...] (its features' share) of its response on series
/// examples[i] (np.quantile's linear interpolation).
void minirocket_fit_biases(const MiniRocketParams& p, const float* x, int64_t C, int64_t L, const int64_t* lengths,
                           const int64_t* examples, const float* quantiles, float* biases);

}  // namespace nabla::kernels
