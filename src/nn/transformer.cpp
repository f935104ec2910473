// The transformer layers of torch.nn (1.13), in its order of operations and
// under its parameter names.
#include <memory>

#include "nabla/nn/attention.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/norm.h"

namespace nabla::nn {

namespace {

void check_layer(const TransformerLayerOptions& o, const char* what) {
  NABLA_CHECK(o.d_model() > 0 && o.nhead() > 0 && o.d_model() % o.nhead() == 0 && o.dim_feedforward() > 0,
              "{}: d_model {} must be a positive multiple of nhead {}, dim_feedforward ({}) positive", what, o.d_model(),
              o.nhead(), o.dim_feedforward());
}

// Self-attention takes the layer's variant; attention over the encoder's memory stays softmax.
std::shared_ptr<MultiheadAttention> attention(const TransformerLayerOptions& o, bool self) {
  return std::make_shared<MultiheadAttention>(MultiheadAttentionOptions(o.d_model(), o.nhead())
                                                  .dropout(o.dropout())
                                                  .batch_first(o.batch_first())
                                                  .attention(self ? o.attention() : AttentionVariant()));
}

// The feed-forward block: linear2(dropout(activation(linear1(x)))).
Tensor feed_forward(const Module& m, Linear& linear1, Linear& linear2, const TransformerLayerOptions& o, const Tensor& x) {
  Tensor h = linear1(x);
  h = o.activation() == TransformerActivation::gelu ? gelu(h) : relu(h);
  return linear2(dropout(h, o.dropout(), m.is_training()));
}

Tensor at(const Tensors& in, size_t i) { return i < in.size() ? in[i] : Tensor(); }

}  // namespace

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerLayerOptions& o) : options(o) {
  check_layer(o, "TransformerEncoderLayer");
  self_attn = register_module("self_attn", attention(o, true));
  linear1 = register_module("linear1", std::make_shared<Linear>(o.d_model(), o.dim_feedforward()));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward(), o.d_model()));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(Shape{o.d_model()}, o.layer_norm_eps()));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(Shape{o.d_model()}, o.layer_norm_eps()));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& mask, const Tensor& kpm, bool is_causal) {
  const double p = options.dropout();
  auto sa = [&](const Tensor& x) {
    return dropout(self_attn->forward(x, x, x, kpm, false, mask, true, is_causal).output, p, is_training());
  };
  auto ff = [&](const Tensor& x) { return dropout(feed_forward(*this, *linear1, *linear2, options, x), p, is_training()); };
  Tensor x = src;
  if (options.norm_first()) {
    x = x + sa((*norm1)(x));
    return x + ff((*norm2)(x));
  }
  x = (*norm1)(x + sa(x));
  return (*norm2)(x + ff(x));
}

Tensors TransformerEncoderLayer::forward_multi(const Tensors& in) {
  NABLA_CHECK(!in.empty() && in.size() <= 3, "TransformerEncoderLayer: takes src[, src_mask[, src_key_padding_mask]], "
              "got {} tensors", in.size());
  return {forward(in[0], at(in, 1), at(in, 2))};
}

TransformerDecoderLayer::TransformerDecoderLayer(const TransformerLayerOptions& o) : options(o) {
  check_layer(o, "TransformerDecoderLayer");
  self_attn = register_module("self_attn", attention(o, true));
  multihead_attn = register_module("multihead_attn", attention(o, false));
  linear1 = register_module("linear1", std::make_shared<Linear>(o.d_model(), o.dim_feedforward()));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward(), o.d_model()));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(Shape{o.d_model()}, o.layer_norm_eps()));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(Shape{o.d_model()}, o.layer_norm_eps()));
  norm3 = register_module("norm3", std::make_shared<LayerNorm>(Shape{o.d_model()}, o.layer_norm_eps()));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                        const Tensor& memory_mask, const Tensor& tgt_kpm, const Tensor& memory_kpm,
                                        bool tgt_is_causal) {
  const double p = options.dropout();
  auto sa = [&](const Tensor& x) {
    return dropout(self_attn->forward(x, x, x, tgt_kpm, false, tgt_mask, true, tgt_is_causal).output, p, is_training());
  };
  auto mha = [&](const Tensor& x) {
    return dropout(multihead_attn->forward(x, memory, memory, memory_kpm, false, memory_mask).output, p, is_training());
  };
  auto ff = [&](const Tensor& x) { return dropout(feed_forward(*this, *linear1, *linear2, options, x), p, is_training()); };
  Tensor x = tgt;
  if (options.norm_first()) {
    x = x + sa((*norm1)(x));
    x = x + mha((*norm2)(x));
    return x + ff((*norm3)(x));
  }
  x = (*norm1)(x + sa(x));
  x = (*norm2)(x + mha(x));
  return (*norm3)(x + ff(x));
}

Tensors TransformerDecoderLayer::forward_multi(const Tensors& in) {
  NABLA_CHECK(in.size() >= 2 && in.size() <= 6, "TransformerDecoderLayer: takes tgt, memory[, tgt_mask[, memory_mask[, "
              "tgt_key_padding_mask[, memory_key_padding_mask]]]], got {} tensors", in.size());
  return {forward(in[0], in[1], at(in, 2), at(in, 3), at(in, 4), at(in, 5))};
}

namespace {

template <class Layer>
std::shared_ptr<ModuleList> stack(Module& owner, const TransformerLayerOptions& o, int64_t n, const char* what) {
  NABLA_CHECK(n >= 1, "{}: num_layers must be positive, got {}", what, n);
  auto list = owner.register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < n; ++i) list->push_back(std::make_shared<Layer>(o));
  return list;
}

}  // namespace

TransformerEncoder::TransformerEncoder(const TransformerLayerOptions& o, int64_t n, bool final_norm) {
  layers = stack<TransformerEncoderLayer>(*this, o, n, "TransformerEncoder");
  if (final_norm) norm = register_module("norm", std::make_shared<LayerNorm>(Shape{o.d_model()}, o.layer_norm_eps()));
}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask, const Tensor& kpm, bool is_causal) {
  Tensor x = src;
  for (size_t i = 0; i < layers->size(); ++i)
    x = std::static_pointer_cast<TransformerEncoderLayer>((*layers)[i])->forward(x, mask, kpm, is_causal);
  return norm ? (*norm)(x) : x;
}

Tensors TransformerEncoder::forward_multi(const Tensors& in) {
  NABLA_CHECK(!in.empty() && in.size() <= 3, "TransformerEncoder: takes src[, mask[, src_key_padding_mask]], got {} "
              "tensors", in.size());
  return {forward(in[0], at(in, 1), at(in, 2))};
}

TransformerDecoder::TransformerDecoder(const TransformerLayerOptions& o, int64_t n, bool final_norm) {
  layers = stack<TransformerDecoderLayer>(*this, o, n, "TransformerDecoder");
  if (final_norm) norm = register_module("norm", std::make_shared<LayerNorm>(Shape{o.d_model()}, o.layer_norm_eps()));
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                   const Tensor& memory_mask, const Tensor& tgt_kpm, const Tensor& memory_kpm,
                                   bool tgt_is_causal) {
  Tensor x = tgt;
  for (size_t i = 0; i < layers->size(); ++i)
    x = std::static_pointer_cast<TransformerDecoderLayer>((*layers)[i])
            ->forward(x, memory, tgt_mask, memory_mask, tgt_kpm, memory_kpm, tgt_is_causal);
  return norm ? (*norm)(x) : x;
}

Tensors TransformerDecoder::forward_multi(const Tensors& in) {
  NABLA_CHECK(in.size() >= 2 && in.size() <= 6, "TransformerDecoder: takes tgt, memory[, tgt_mask[, memory_mask[, "
              "tgt_key_padding_mask[, memory_key_padding_mask]]]], got {} tensors", in.size());
  return {forward(in[0], in[1], at(in, 2), at(in, 3), at(in, 4), at(in, 5))};
}

Transformer::Transformer(const TransformerLayerOptions& o, int64_t num_encoder_layers, int64_t num_decoder_layers) {
  encoder = register_module("encoder", std::make_shared<TransformerEncoder>(o, num_encoder_layers, true));
  decoder = register_module("decoder", std::make_shared<TransformerDecoder>(o, num_decoder_layers, true));
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask, const Tensor& tgt_mask,
                            const Tensor& memory_mask, const Tensor& src_kpm, const Tensor& tgt_kpm,
                            const Tensor& memory_kpm) {
  Tensor memory = encoder->forward(src, src_mask, src_kpm);
  return decoder->forward(tgt, memory, tgt_mask, memory_mask, tgt_kpm, memory_kpm);
}

Tensors Transformer::forward_multi(const Tensors& in) {
  NABLA_CHECK(in.size() >= 2 && in.size() <= 5, "Transformer: takes src, tgt[, src_mask[, tgt_mask[, memory_mask]]], "
              "got {} tensors", in.size());
  return {forward(in[0], in[1], at(in, 2), at(in, 3), at(in, 4))};
}

}  // namespace nabla::nn
