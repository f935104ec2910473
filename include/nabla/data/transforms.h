#pragma once
// Batch transforms: conversion, normalization and augmentation of [N, C, H, W]
// batches. Random ones take the generator of the loader, so runs repeat.
#include <functional>
#include <string>
#include <vector>

#include "nabla/tensor/generator.h"
#include "nabla/tensor/tensor.h"

namespace nabla::data {

/// The random source of a batch's augmentations: example i draws from gens[i].
/// A DataLoader seeds one generator per example from (seed, epoch, the
/// example's index in the data set), so an example is augmented the same
/// whichever batch or rank reads it; one shared generator is the other form.
class SampleGenerators {
 public:
  /// One generator per example, seeded by (seed, epoch, indices[i]).
  SampleGenerators(uint64_t seed, int64_t epoch, const std::vector<int64_t>& indices);
  /// Every example draws from `shared` in turn.
  explicit SampleGenerators(Generator& shared) : shared_(&shared) {}
  /// Example i's generator (i < the batch size for the per-example form).
  Generator& operator[](int64_t i);

 private:
  Generator* shared_ = nullptr;
  std::vector<Generator> own_;
};

/// A batch-to-batch function.
using Transform = std::function<Tensor(const Tensor& batch, SampleGenerators& gens)>;

/// u8 pixels to f32 in [0, 1]; floating inputs become f32 unchanged.
Tensor to_float(const Tensor& x);
/// (x - mean[c]) / std[c] over channel dim 1 (a single value applies to all channels).
Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std);
/// Pads each image by `padding` zeros and crops back to its size at a random offset.
Tensor random_crop(const Tensor& x, int64_t padding, SampleGenerators& gens);
Tensor random_crop(const Tensor& x, int64_t padding, Generator& gen);
/// Mirrors each image left-right with probability p.
Tensor random_horizontal_flip(const Tensor& x, double p, SampleGenerators& gens);
Tensor random_horizontal_flip(const Tensor& x, double p, Generator& gen);
/// With probability p, sets a random rectangle of each image (area 2-33%,
/// aspect 0.3-3.3, as in Zhong et al. 2017) to zero.
Tensor random_erasing(const Tensor& x, double p, SampleGenerators& gens);
Tensor random_erasing(const Tensor& x, double p, Generator& gen);

/// Per-channel mean and standard deviation of u8 or float images [N, C, ...],
/// on the [0, 1] scale for u8.
std::pair<std::vector<double>, std::vector<double>> channel_stats(const Tensor& images);

/// How raw inputs become model inputs; part of a run's configuration and
/// saved in its checkpoint so evaluation repeats it exactly.
struct Preprocess {
  std::string normalize = "standard";  ///< "standard": (x - mean) / std with train-set stats; "none": x / 255 only
  std::vector<double> mean, std;       ///< filled from the training data for "standard"
  int64_t crop_padding = 0;            ///< random crop (training only)
  bool hflip = false;                  ///< random horizontal flip (training only)
  double erasing = 0.0;                ///< random erasing probability (training only)

  /// The deterministic part (conversion, normalization): used for evaluation.
  Tensor apply(const Tensor& batch) const;
  /// The training pipeline: apply() plus the enabled augmentations.
  Transform train_transform() const;
  Transform eval_transform() const;
  std::string to_json() const;
  static Preprocess from_json(const std::string& s);
};

}  // namespace nabla::data
