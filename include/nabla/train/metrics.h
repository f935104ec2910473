#pragma once
// Classification metrics.
#include "nabla/tensor/tensor.h"

namespace nabla::train {

/// Fraction of rows of logits [N, K] whose argmax equals labels [N].
double accuracy(const Tensor& logits, const Tensor& labels);
/// Fraction of rows whose label is among the k largest logits.
double topk_accuracy(const Tensor& logits, const Tensor& labels, int64_t k);
/// counts[true][pred], i64 [K, K].
Tensor confusion_matrix(const Tensor& preds, const Tensor& labels, int64_t num_classes);
/// Expected calibration error of probabilities [N, K] with `bins` equal-width
/// confidence bins: sum over bins of |accuracy - confidence| weighted by the bin's share.
double expected_calibration_error(const Tensor& probs, const Tensor& labels, int64_t bins = 15);

}  // namespace nabla::train
