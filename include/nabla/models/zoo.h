#pragma once
// The model zoo: models by name, built for a given input shape and class count.
#include <functional>
#include <string>
#include <vector>

#include "nabla/nn/module.h"

namespace nabla::models {

/// The sizes of the attention models (gpt, vit); 0 or "" keeps the model's default.
struct TransformerSizes {
  int64_t layers = 0;
  int64_t width = 0;
  int64_t heads = 0;
  int64_t mlp_width = 0;
  int64_t context = 0;     ///< gpt: the most positions it attends over
  int64_t patch = 0;       ///< vit: the patch side
  std::string activation;  ///< gelu or swiglu
  std::string positions;   ///< gpt: learned or rotary
  std::string attention;   ///< softmax (the only one so far)
  bool untied = false;     ///< gpt: a read-out of its own instead of the embedding's weights
  bool operator==(const TransformerSizes&) const = default;
};

/// What a model is built for. `input_shape` is one example's shape: [C, H, W]
/// for images, [F] for feature vectors.
struct ModelConfig {
  Shape input_shape;
  int64_t num_classes = 10;
  std::vector<int64_t> hidden;  ///< mlp: hidden layer sizes (default 256, 128, 100)
  double dropout = 0.0;         ///< mlp/lenet: before dense layers; WRN: inside blocks; MobileNetV2, DenseNet: classifier
  std::string stem;             ///< ImageNet-style nets: "imagenet" (7x7/2 conv + max pool, default) or "small" (3x3/1 conv)
  double drop_path = 0.0;       ///< residual nets: stochastic depth rate of the last block (linear decay over depth)
  bool zero_init_residual = false;  ///< residual nets: the last norm (or conv) of each branch starts at zero
  TransformerSizes transformer;     ///< gpt, vit
  int64_t kernels = 0;              ///< rocket: random kernels, minirocket: features (0: 10,000)
  uint64_t kernel_seed = 0;         ///< rocket, minirocket: the seed of their random draws
  std::string to_json() const;
  static ModelConfig from_json(const std::string& s);
};

/// A zoo entry.
struct ModelInfo {
  std::string name;
  std::string description;
  std::function<nn::ModulePtr(const ModelConfig&)> make;
  /// Recommended training settings (TrainConfig JSON keys) for `nabla train`.
  std::string train_defaults = "{}";
  /// What one example is: "image" ([C, H, W] or [F]), "tokens" (language models) or "series" ([C, L]).
  std::string input = "image";
};

/// The zoo entry of a model; Error naming the known models otherwise.
const ModelInfo& model_info(const std::string& name);

/// The recommended training settings of a model as TrainConfig JSON ("{}" if unknown).
std::string default_train_config(const std::string& name);

/// Every model, in listing order.
const std::vector<ModelInfo>& zoo();
/// Builds a model by name; Error naming the known models otherwise.
nn::ModulePtr create(const std::string& name, const ModelConfig& cfg);

/// Multi-layer perceptron: Flatten, then Linear+ReLU per hidden size, then Linear to the classes.
nn::ModulePtr mlp(const ModelConfig& cfg);
/// LeNet-style CNN: conv5x5(32)+ReLU+maxpool2, conv5x5(64)+ReLU+maxpool2, dense 128+ReLU, dense to the classes.
nn::ModulePtr lenet(const ModelConfig& cfg);

}  // namespace nabla::models
