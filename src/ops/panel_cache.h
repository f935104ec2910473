#pragma once
// Packed copies of dense-layer weights for batch-1 inference (see
// kernels/cpu/panel_gemv.h), kept while the weights stay unchanged.
#include <memory>

#include "kernels/cpu/panel_gemv.h"
#include "nabla/tensor/tensor.h"

namespace nabla::detail {

/// The panels of contiguous f32 weight w [N, K], packed on first use and reused
/// while w's storage keeps its id and version; null when the cache is full.
std::shared_ptr<const kernels::PanelWeights> inference_panels(const Tensor& w);

}  // namespace nabla::detail
