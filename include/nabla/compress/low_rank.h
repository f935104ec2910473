#pragma once
// Low-rank factorization of a trained model's Linear and Conv2d layers by
// truncated SVD. A Linear [out, in] becomes Linear(in, r, no bias) followed by
// Linear(r, out); a Conv2d [out, in, kh, kw] (groups 1) becomes a Conv2d(in, r,
// kh x kw, the layer's stride, padding and dilation, no bias) followed by a
// 1x1 Conv2d(r, out): W ~ (U sqrt(S)) (sqrt(S) Vh), the best rank-r
// approximation. The factors are the layer's delegate (Module::delegate_calls),
// saved as `<layer>.low_rank.0.weight`, `<layer>.low_rank.1.weight` and
// `<layer>.low_rank.1.bias`. f32 and f64 weights.
#include <map>
#include <string>
#include <vector>

#include "nabla/nn/module.h"

namespace nabla::compress {

/// How much to keep: `rank` singular values per layer, or the fewest whose
/// squared sum is at least `energy` of the total (one of them, > 0).
struct LowRankOptions {
  int64_t rank = 0;
  double energy = 0.0;     ///< in (0, 1]
  /// Factorize a layer only when its factors hold at most this share of its
  /// weights (two products instead of one cost time; a small saving does not pay)
  double max_ratio = 0.8;
  std::vector<std::string> skip = {};  ///< layer paths left as they are ("fc2")
};

/// One factorized (or skipped) layer.
struct Factorization {
  std::string path;        ///< "features.3"
  std::string type;        ///< "Linear" or "Conv2d"
  int64_t rank = 0;        ///< kept; 0 when skipped
  int64_t full_rank = 0;   ///< min(out, in * kh * kw)
  int64_t params_before = 0, params_after = 0;  ///< weights (and bias) of the layer
  double energy = 0.0;     ///< share of the squared singular values kept
};

/// Factorizes every Linear and Conv2d (groups 1) of `model` (skipping those
/// already factorized); returns what it did per layer, the skipped included.
std::vector<Factorization> low_rank(nn::Module& model, const LowRankOptions& options);

/// Gives the layers whose factors `state` holds (`<layer>.low_rank.0.weight`)
/// their factorized form of that rank, so that the state_dict loads; returns
/// the number of layers changed. model_from_checkpoint calls it.
int64_t adopt_low_rank(nn::Module& model, const std::map<std::string, Tensor>& state);

}  // namespace nabla::compress
