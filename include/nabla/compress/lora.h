#pragma once
// LoRA (Hu et al. 2021): low-rank adapters trained on a frozen base. Each
// adapted Linear [out, in] gains `lora_A` = Linear(in, r, no bias) (PyTorch's
// default Linear init) and `lora_B` = Linear(r, out, no bias) (zeros, so the
// adapted model starts as the base), named as the peft library names them
// (`<layer>.lora_A.weight`, `<layer>.lora_B.weight`; the base keeps
// `<layer>.weight` and `<layer>.bias`), and computes
// base(x) + (alpha / r) lora_B(lora_A(x)). f32 and f64 layers.
#include <map>
#include <string>
#include <vector>

#include "nabla/nn/module.h"

namespace nabla::compress {

struct LoRAOptions {
  int64_t rank = 8;
  double alpha = 16.0;               ///< the update is scaled by alpha / rank
  std::vector<std::string> targets = {};  ///< Linear layer paths; empty: every Linear
  bool freeze_base = true;           ///< every other parameter stops requiring grad
};

/// Adds adapters to the target Linear layers of `model`; returns their paths.
/// With freeze_base, only the adapters require grad afterwards (an optimizer
/// built from optim::param_groups then trains only them).
std::vector<std::string> add_lora(nn::Module& model, const LoRAOptions& options);
/// Folds every adapter into its layer, W += (alpha / r) B A, and removes it:
/// a plain model again, every parameter requiring grad. Returns the count.
int64_t merge_lora(nn::Module& model);
/// Whether any layer of `model` has an adapter.
bool has_lora(nn::Module& model);
/// Adds the adapters `state` holds (`<layer>.lora_A.weight`, rank from its
/// shape) with `alpha`, so that the state_dict loads; returns how many.
int64_t adopt_lora(nn::Module& model, const std::map<std::string, Tensor>& state, double alpha,
                   bool freeze_base = true);

}  // namespace nabla::compress
