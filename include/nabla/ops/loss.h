#pragma once
// Loss functions, with PyTorch's semantics and defaults.
#include <string>

#include "nabla/tensor/tensor.h"

namespace nabla {

/// How per-element losses are combined. BatchMean (kl_div's, and the one that
/// is the true KL divergence per example) is the sum divided by the batch size.
enum class Reduction { None, Mean, Sum, BatchMean };

/// Parses "none" | "mean" | "sum" | "batchmean" (Error otherwise).
Reduction parse_reduction(const std::string& s);

struct CrossEntropyOptions {
  Tensor weight;               ///< per-class weights [C], optional
  int64_t ignore_index = -100; ///< targets equal to this contribute nothing (index targets only)
  Reduction reduction = Reduction::Mean;
  double label_smoothing = 0.0;
};

/// Cross entropy between logits [N, C] (or [N, C, d1, ...], or [C]) and either
/// class indices (i64, [N, d1, ...]) or class probabilities (input's shape).
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& opts = {});
/// cross_entropy as a composition of recorded ops (log_softmax, gather, masks):
/// the reference of its fused [N, C] kernel, and that kernel's second derivative.
Tensor cross_entropy_composite(const Tensor& input, const Tensor& target, const CrossEntropyOptions& opts = {});

/// Negative log-likelihood of log-probabilities [N, C, ...] at i64 targets.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight = Tensor(),
                int64_t ignore_index = -100, Reduction reduction = Reduction::Mean);

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
/// Huber-like: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                      double beta = 1.0);
/// Sigmoid + binary cross entropy in one stable formula; optional per-element
/// `weight` and per-class `pos_weight` (broadcast over the last dim).
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                                        const Tensor& pos_weight = Tensor(), Reduction reduction = Reduction::Mean);

/// Kullback-Leibler divergence with PyTorch's kl_div argument order: `input`
/// holds log-probabilities, `target` probabilities (log-probabilities with
/// log_target); per element target * (log target - input), 0 where target is 0.
/// Floating dtypes; same shapes. Reduction::Mean averages over all elements
/// as PyTorch does; BatchMean divides the sum by input.size(0).
Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
              bool log_target = false);

/// Soft Dice loss for segmentation (Milletari et al. 2016): 1 - mean over
/// classes of (2 |P n T| + smooth) / (|P| + |T| + smooth), with P the softmax
/// of logits [N, C, d1, ...] over C and T the one-hot of i64 targets [N, d1, ...].
/// With C == 1, P is the sigmoid and T the 0/1 targets (i64 or floating, shape
/// [N, d1, ...] or [N, 1, d1, ...]).
Tensor dice_loss(const Tensor& logits, const Tensor& target, double smooth = 1.0);

}  // namespace nabla
