#pragma once
// Sparse inference for pruned models: Linear layers whose weights are mostly
// zero run through a CSR kernel (only the nonzeros are read), where that is
// measured faster than the dense kernel on this machine.
#include <string>
#include <vector>

#include "nabla/nn/module.h"

namespace nabla::compress {

struct SparsifyOptions {
  double min_sparsity = 0.5;  ///< layers with fewer zeros are not tried
  int64_t batch = 1;          ///< the batch size the layers are timed at
  bool measure = true;        ///< false: use CSR for every layer at min_sparsity or above, untimed
};

/// What sparsify decided for one Linear layer.
struct SparseLayer {
  std::string path;
  double sparsity = 0;
  double dense_us = 0, sparse_us = 0;  ///< median time of one call at the options' batch (0: not timed)
  bool sparse = false;                 ///< runs through CSR now
};

/// Gives each f32 Linear layer (not factorized or adapted) whose weight is at
/// least min_sparsity zero a CSR delegate when it is faster (or when not
/// measuring). The delegate serves calls without autograd in eval mode and
/// rebuilds its CSR copy when the weight changes; training, autograd and
/// other dtypes run the dense layer. The state_dict is unchanged.
std::vector<SparseLayer> sparsify(nn::Module& model, const SparsifyOptions& options = {});
/// Removes every CSR delegate; returns how many.
int64_t densify(nn::Module& model);

}  // namespace nabla::compress
