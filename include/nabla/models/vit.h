#pragma once
// The Vision Transformer (Dosovitskiy et al. 2021) with torchvision 0.14's
// VisionTransformer layout and parameter names, so its state_dicts load both
// ways: conv_proj, class_token, encoder.pos_embedding,
// encoder.layers.encoder_layer_N.{ln_1, self_attention, ln_2, mlp.0, mlp.3},
// encoder.ln, heads.head; LayerNorm eps 1e-6.
#include <memory>
#include <string>

#include "nabla/models/zoo.h"
#include "nabla/nn/attention.h"
#include "nabla/nn/container.h"
#include "nabla/nn/layers.h"

namespace nabla::models {

/// The sizes of a ViT.
struct ViTOptions {
  int64_t image_size = 28;
  int64_t channels = 1;
  int64_t patch_size = 7;
  int64_t layers = 6;
  int64_t heads = 4;
  int64_t hidden_dim = 128;
  int64_t mlp_dim = 256;
  int64_t num_classes = 10;
  double dropout = 0.0;            ///< after the positions, each attention and each MLP layer
  double attention_dropout = 0.0;  ///< on the attention probabilities
  /// softmax, or linear, relu, window:W (over the token sequence) or
  /// neighborhood:K (K x K patches around each patch; the class token sees all).
  nn::AttentionVariant attention;
};

/// torchvision's EncoderBlock: x + dropout(self_attention(ln_1(x))), then + mlp(ln_2(.)).
class ViTEncoderBlock : public nn::Module {
 public:
  explicit ViTEncoderBlock(const ViTOptions& o);
  Tensor forward(const Tensor& x) override;  ///< [N, S, hidden_dim]
  std::string type_name() const override { return "EncoderBlock"; }
  std::shared_ptr<nn::LayerNorm> ln_1, ln_2;
  std::shared_ptr<nn::MultiheadAttention> self_attention;
  std::shared_ptr<nn::Sequential> mlp;  ///< Linear, GELU, Dropout, Linear, Dropout
  std::shared_ptr<nn::Dropout> dropout;
};

/// torchvision's Encoder: + pos_embedding [1, S, hidden_dim], dropout, the blocks, ln.
class ViTEncoder : public nn::Module {
 public:
  ViTEncoder(const ViTOptions& o, int64_t seq_length);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Encoder"; }
  Tensor pos_embedding;
  std::shared_ptr<nn::Dropout> dropout;
  std::shared_ptr<nn::Sequential> layers;  ///< encoder_layer_0, encoder_layer_1, ...
  std::shared_ptr<nn::LayerNorm> ln;
};

/// images [N, C, H, W] -> logits [N, num_classes]: patches by a strided
/// convolution, a class token in front, the encoder, the class token's head.
class VisionTransformer : public nn::Module {
 public:
  explicit VisionTransformer(const ViTOptions& o);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "VisionTransformer"; }
  std::string extra_repr() const override;
  const ViTOptions& options() const { return o_; }
  std::shared_ptr<nn::Conv2d> conv_proj;
  Tensor class_token;  ///< [1, 1, hidden_dim]
  std::shared_ptr<ViTEncoder> encoder;
  std::shared_ptr<nn::Sequential> heads;  ///< heads.head

 private:
  ViTOptions o_;
};

/// The zoo's vit for cfg.input_shape [C, H, W] (square) and cfg.num_classes;
/// cfg.transformer's patch, layers, heads, width and mlp_width override the defaults.
nn::ModulePtr vit(const ModelConfig& cfg);

}  // namespace nabla::models
