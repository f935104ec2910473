#pragma once
// The weight and bias of the layers compression rewrites (Linear, Conv2d).
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

}  // namespace nabla::compress::detail
