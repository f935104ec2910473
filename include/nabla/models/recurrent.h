#pragma once
// Recurrent models of the zoo.
#include "nabla/models/zoo.h"
#include "nabla/nn/layers.h"
#include "nabla/nn/rnn.h"

namespace nabla::models {

/// Reads an image [C, H, W] as a sequence of C*H rows of W features, runs a
/// GRU over them, and classifies from the last layer's final state
/// (the "row-by-row" sequence classifier of the MNIST literature).
class RowGRU : public nn::Module {
 public:
  RowGRU(int64_t row_features, int64_t hidden, int64_t layers, int64_t num_classes, double dropout);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "RowGRU"; }
  std::shared_ptr<nn::GRU> gru;
  std::shared_ptr<nn::Linear> fc;
};

/// The zoo's row-gru: 2 layers of 128 (cfg.hidden overrides: one size per layer, all equal).
nn::ModulePtr row_gru(const ModelConfig& cfg);

}  // namespace nabla::models
