#pragma once
// Classification and segmentation metrics.
#include <vector>

#include "nabla/tensor/tensor.h"

namespace nabla::train {

/// Fraction of rows of logits [N, K] whose argmax equals labels [N]; for
/// per-pixel logits [N, K, d...] and labels [N, d...], the fraction of pixels.
double accuracy(const Tensor& logits, const Tensor& labels);
/// Per-pixel scores [N, K, d...] as rows [N * d..., K] (and labels [N, d...] as
/// [N * d...]), so the classification metrics apply to segmentation.
std::pair<Tensor, Tensor> pixels_as_rows(const Tensor& scores, const Tensor& labels);
/// Fraction of rows whose label is among the k largest logits.
double topk_accuracy(const Tensor& logits, const Tensor& labels, int64_t k);
/// counts[true][pred], i64 [K, K].
Tensor confusion_matrix(const Tensor& preds, const Tensor& labels, int64_t num_classes);
/// Expected calibration error of probabilities [N, K] with `bins` equal-width
/// confidence bins: sum over bins of |accuracy - confidence| weighted by the bin's share.
double expected_calibration_error(const Tensor& probs, const Tensor& labels, int64_t bins = 15);

/// Per-class intersection over union |P n T| / |P u T| from a confusion matrix
/// [K, K] (counts[true][pred]); NaN for a class absent from both predictions and labels.
std::vector<double> iou_per_class(const Tensor& confusion);
/// Per-class Dice (F1) 2 |P n T| / (|P| + |T|); NaN where a class is absent from both.
std::vector<double> dice_per_class(const Tensor& confusion);
/// Mean of the per-class values that are not NaN (0 if none is).
double nanmean(const std::vector<double>& v);

}  // namespace nabla::train
