#pragma once
// The weight and bias of the layers compression rewrites (Linear, Conv2d).
#include <string>

#include "nabla/nn/layers.h"

namespace nabla::compress::detail {

inline Tensor& weight_of(nn::Module& m) {
  if (auto* l = dynamic_cast<nn::Linear*>(&m)) return l->weight;
  return dynamic_cast<nn::Conv2d&>(m).weight;
}

inline Tensor& bias_of(nn::Module& m) {
  if (auto* l = dynamic_cast<nn::Linear*>(&m)) return l->bias;
  return dynamic_cast<nn::Conv2d&>(m).bias;
}

/// Swaps the layer's calls to `by` (registered as child `name`); its own
/// weight and bias leave the registry and free their memory: `by` computes
/// from tensors of its own (factors, int8 weights).
inline void replace_weights_with(nn::Module& layer, const std::string& name, nn::ModulePtr by) {
  const bool has_bias = bias_of(layer).defined();
  layer.delegate_calls(name, std::move(by));
  *layer.unregister_tensor("weight") = Tensor();
  if (has_bias) *layer.unregister_tensor("bias") = Tensor();
}

}  // namespace nabla::compress::detail
