#include "nabla/models/vit.h"

#include <cmath>

#include "nabla/autograd/grad_mode.h"
#include "nabla/nn/activation.h"
#include "nabla/nn/init.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/norm.h"
#include "nabla/ops/shape.h"
#include "nabla/tensor/factory.h"

namespace nabla::models {

namespace {

constexpr double kLayerNormEps = 1e-6;  // torchvision's partial(nn.LayerNorm, eps=1e-6)

void check_options(const ViTOptions& o) {
  NABLA_CHECK(o.image_size > 0 && o.channels > 0 && o.patch_size > 0 && o.layers > 0 && o.heads > 0 &&
                  o.hidden_dim > 0 && o.mlp_dim > 0 && o.num_classes > 0,
              "VisionTransformer: every size must be positive");
  NABLA_CHECK(o.image_size % o.patch_size == 0, "VisionTransformer: image size {} is not divisible by patch size {}",
              o.image_size, o.patch_size);
  NABLA_CHECK(o.hidden_dim % o.heads == 0, "VisionTransformer: hidden_dim {} is not divisible by heads {}",
              o.hidden_dim, o.heads);
  using Kind = nn::AttentionVariant::Kind;
  NABLA_CHECK(o.attention.kind != Kind::retention, "VisionTransformer: retention is causal; images take softmax, "
              "linear, relu, window:W or neighborhood:K");
  const int64_t grid = o.image_size / o.patch_size;
  NABLA_CHECK(o.attention.kind != Kind::neighborhood || o.attention.size <= grid,
              "VisionTransformer: a neighborhood of {} patches does not fit the {}x{} patch grid", o.attention.size,
              grid, grid);
}

}  // namespace

ViTEncoderBlock::ViTEncoderBlock(const ViTOptions& o) {
  ln_1 = register_module("ln_1", std::make_shared<nn::LayerNorm>(Shape{o.hidden_dim}, kLayerNormEps));
  self_attention = register_module(
      "self_attention", std::make_shared<nn::MultiheadAttention>(
                            nn::MultiheadAttentionOptions(o.hidden_dim, o.heads)
                                .dropout(o.attention_dropout)
                                .batch_first(true)
                                .attention(o.attention)));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(o.dropout));
  ln_2 = register_module("ln_2", std::make_shared<nn::LayerNorm>(Shape{o.hidden_dim}, kLayerNormEps));
  mlp = register_module("mlp", std::make_shared<nn::Sequential>());
  auto fc1 = std::make_shared<nn::Linear>(o.hidden_dim, o.mlp_dim), fc2 = std::make_shared<nn::Linear>(o.mlp_dim, o.hidden_dim);
  mlp->push_back(fc1);
  mlp->push_back(std::make_shared<nn::GELU>());
  mlp->push_back(std::make_shared<nn::Dropout>(o.dropout));
  mlp->push_back(fc2);
  mlp->push_back(std::make_shared<nn::Dropout>(o.dropout));
  // torchvision's MLPBlock: Xavier-uniform weights, biases N(0, 1e-6).
  NoGradGuard ng;
  for (auto* fc : {fc1.get(), fc2.get()}) {
    nn::init::xavier_uniform_(fc->weight);
    nn::init::normal_(fc->bias, 0.0, 1e-6);
  }
}

Tensor ViTEncoderBlock::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() == 3, "EncoderBlock: expected [batch, sequence, hidden], got {}", shape_str(x.sizes()));
  Tensor h = (*ln_1)(x);
  Tensor a = self_attention->forward(h, h, h, Tensor(), false).output;
  Tensor y = add((*dropout)(a), x);
  return add(y, (*mlp)((*ln_2)(y)));
}

ViTEncoder::ViTEncoder(const ViTOptions& o, int64_t seq_length) {
  register_parameter("pos_embedding", pos_embedding, Tensor::empty({1, seq_length, o.hidden_dim}, DType::f32));
  {
    NoGradGuard ng;
    nn::init::normal_(pos_embedding, 0.0, 0.02);  // from BERT, as torchvision
  }
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(o.dropout));
  layers = register_module("layers", std::make_shared<nn::Sequential>());
  for (int64_t i = 0; i < o.layers; ++i)
    layers->push_back(fmt::format("encoder_layer_{}", i), std::make_shared<ViTEncoderBlock>(o));
  ln = register_module("ln", std::make_shared<nn::LayerNorm>(Shape{o.hidden_dim}, kLayerNormEps));
}

Tensor ViTEncoder::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() == 3 && x.size(1) == pos_embedding.size(1) && x.size(2) == pos_embedding.size(2),
              "Encoder: expected [batch, {}, {}], got {}", pos_embedding.size(1), pos_embedding.size(2),
              shape_str(x.sizes()));
  return (*ln)((*layers)((*dropout)(add(x, pos_embedding))));
}

VisionTransformer::VisionTransformer(const ViTOptions& o) : o_(o) {
  check_options(o);
  const int64_t p = o.patch_size, grid = o.image_size / p;
  conv_proj = register_module("conv_proj", std::make_shared<nn::Conv2d>(o.channels, o.hidden_dim, p, p));
  register_parameter("class_token", class_token, zeros({1, 1, o.hidden_dim}));
  encoder = register_module("encoder", std::make_shared<ViTEncoder>(o, grid * grid + 1));
  heads = register_module("heads", std::make_shared<nn::Sequential>());
  auto head = std::make_shared<nn::Linear>(o.hidden_dim, o.num_classes);
  heads->push_back("head", head);
  NoGradGuard ng;
  // torchvision: the patch projection truncated-normal with std sqrt(1 / fan_in), zero bias; a zero head.
  nn::init::trunc_normal_(conv_proj->weight, 0.0, std::sqrt(1.0 / static_cast<double>(o.channels * p * p)));
  nn::init::zeros_(conv_proj->bias);
  nn::init::zeros_(head->weight);
  nn::init::zeros_(head->bias);
}

std::string VisionTransformer::extra_repr() const {
  return fmt::format("image_size={}, patch_size={}, layers={}, heads={}, hidden_dim={}, mlp_dim={}", o_.image_size,
                     o_.patch_size, o_.layers, o_.heads, o_.hidden_dim, o_.mlp_dim);
}

Tensor VisionTransformer::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() == 4 && x.size(1) == o_.channels && x.size(2) == o_.image_size && x.size(3) == o_.image_size,
              "VisionTransformer: expected images [N, {}, {}, {}], got {}", o_.channels, o_.image_size, o_.image_size,
              shape_str(x.sizes()));
  const int64_t N = x.size(0);
  // [N, hidden, grid, grid] -> [N, grid * grid, hidden], the class token first.
  Tensor patches = (*conv_proj)(x).reshape({N, o_.hidden_dim, -1}).permute({0, 2, 1});
  Tensor tokens = cat({class_token.expand({N, 1, o_.hidden_dim}), patches}, 1);
  Tensor h = (*encoder)(tokens);
  return (*heads)(h.select(1, 0));
}

nn::ModulePtr vit(const ModelConfig& cfg) {
  NABLA_CHECK(cfg.input_shape.size() == 3 && cfg.input_shape[1] == cfg.input_shape[2],
              "vit: expected square images [C, H, H], got {}", shape_str(cfg.input_shape));
  ViTOptions o;
  o.channels = cfg.input_shape[0];
  o.image_size = cfg.input_shape[1];
  o.num_classes = cfg.num_classes;
  o.dropout = cfg.dropout;
  const TransformerSizes& t = cfg.transformer;
  if (t.patch) o.patch_size = t.patch;
  else if (o.image_size % o.patch_size != 0) o.patch_size = o.image_size % 4 == 0 ? 4 : 1;  // 32x32: patches of 4
  if (t.layers) o.layers = t.layers;
  if (t.heads) o.heads = t.heads;
  if (t.width) o.hidden_dim = t.width;
  if (t.mlp_width) o.mlp_dim = t.mlp_width;
  NABLA_CHECK(t.context == 0 && t.positions.empty() && !t.untied, "vit: --context, --positions and --untied are for gpt");
  NABLA_CHECK(t.activation.empty() || t.activation == "gelu", "vit: its MLP is GELU (got --activation {})", t.activation);
  if (!t.attention.empty()) o.attention = nn::AttentionVariant::parse(t.attention);
  return std::make_shared<VisionTransformer>(o);
}

}  // namespace nabla::models
