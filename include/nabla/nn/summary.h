#pragma once
// A per-layer summary of a model (Keras' model.summary, torchinfo): each
// layer's output shape, parameter count and forward FLOPs for one example.
#include <string>
#include <vector>

#include "nabla/nn/module.h"

namespace nabla::nn {

/// One call of a leaf layer during the summarized forward pass.
struct LayerSummary {
  std::string name;  ///< dotted path ("layer1.0.conv1")
  std::string type;  ///< "Conv2d"
  std::vector<Shape> outputs;  ///< output shapes for a batch of one (several for a multi-output layer)
  int64_t params = 0;
  int64_t flops = 0;  ///< 2 per multiply-add in conv/linear layers; one per output element (or window element) elsewhere
};

/// The whole model: its leaf layers in call order and totals.
struct ModelSummary {
  std::vector<LayerSummary> layers;
  std::vector<Shape> inputs, outputs;
  int64_t params = 0, trainable = 0, flops = 0;
  /// A fixed-width table with a totals footer.
  std::string str() const;
};

/// Runs `model` in eval mode without autograd on zeros of [1, ...input_shape]
/// and records every leaf layer it calls through Module::operator() or call().
ModelSummary summarize(Module& model, const Shape& input_shape);
/// The same for a model of several inputs (f32 zeros of [1, ...shape] each),
/// called through Module::call.
ModelSummary summarize(Module& model, const std::vector<Shape>& input_shapes);

}  // namespace nabla::nn
