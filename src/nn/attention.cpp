// nn::MultiheadAttention: PyTorch 1.13's projections, masks and weights around
// scaled_dot_product_attention.
#include "nabla/nn/attention.h"

#include <fmt/format.h>

#include <limits>

#include "nabla/nn/init.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/attention.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/norm.h"
#include "nabla/ops/reduce.h"
#include "nabla/ops/shape.h"
#include "nabla/tensor/factory.h"

namespace nabla::nn {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A MultiheadAttention mask as scores to add: bool (u8 nonzero) true -> -inf.
Tensor additive(const Tensor& m, DType dt, const char* which) {
  if (m.dtype() == DType::boolean || m.dtype() == DType::u8) return where(m, full({}, -kInf, dt), 0.0);
  NABLA_CHECK(is_floating(m.dtype()), "MultiheadAttention: {} must be bool or floating, got {}", which,
              dtype_name(m.dtype()));
  return m.dtype() == dt ? m : m.to(dt);
}

// key_padding_mask and attn_mask as one additive mask that broadcasts to [N, H, L, S].
Tensor combined_mask(const Tensor& kpm, const Tensor& am, int64_t N, int64_t H, int64_t L, int64_t S, bool batched,
                     DType dt) {
  Tensor out;
  if (am.defined()) {
    if (am.dim() == 2) {
      NABLA_CHECK(am.sizes() == Shape({L, S}), "MultiheadAttention: attn_mask {} must be [{}, {}] (L, S)",
                  shape_str(am.sizes()), L, S);
      out = additive(am, dt, "attn_mask");
    } else {
      const int64_t nh = batched ? N * H : H;
      NABLA_CHECK(am.dim() == 3 && am.sizes() == Shape({nh, L, S}),
                  "MultiheadAttention: attn_mask {} must be [{}, {}] or [{}, {}, {}] ({}num_heads, L, S)",
                  shape_str(am.sizes()), L, S, nh, L, S, batched ? "N * " : "");
      out = additive(am, dt, "attn_mask").reshape({N, H, L, S});
    }
  }
  if (kpm.defined()) {
    const Shape want = batched ? Shape{N, S} : Shape{S};
    NABLA_CHECK(kpm.sizes() == want, "MultiheadAttention: key_padding_mask {} must be {} ({}S)",
                shape_str(kpm.sizes()), shape_str(want), batched ? "N, " : "");
    Tensor k = additive(kpm, dt, "key_padding_mask").reshape({N, 1, 1, S});
    out = out.defined() ? add(out, k) : k;
  }
  return out;
}

// One more key that every query sees (bias_k, add_zero_attn): the mask grows a 0 column.
Tensor attend_one_more(const Tensor& mask) {
  if (!mask.defined()) return mask;
  Shape s = mask.sizes();
  s.back() = 1;
  return cat({mask, zeros(s, mask.dtype())}, -1);
}

}  // namespace

MultiheadAttention::MultiheadAttention(const MultiheadAttentionOptions& o) : options(o) {
  const int64_t E = o.embed_dim(), H = o.num_heads();
  NABLA_CHECK(E > 0 && H > 0 && E % H == 0, "MultiheadAttention: embed_dim {} must be a positive multiple of num_heads {}",
              E, H);
  NABLA_CHECK(o.dropout() >= 0 && o.dropout() < 1, "MultiheadAttention: dropout must be in [0, 1), got {}", o.dropout());
  if (options.kdim() == 0) options.kdim(E);
  if (options.vdim() == 0) options.vdim(E);
  // PyTorch's registration order, so state_dicts list the same keys in the same order.
  if (options.kdim() == E && options.vdim() == E) {
    init::xavier_uniform_(register_parameter("in_proj_weight", in_proj_weight, Tensor::empty({3 * E, E})));
  } else {
    init::xavier_uniform_(register_parameter("q_proj_weight", q_proj_weight, Tensor::empty({E, E})));
    init::xavier_uniform_(register_parameter("k_proj_weight", k_proj_weight, Tensor::empty({E, options.kdim()})));
    init::xavier_uniform_(register_parameter("v_proj_weight", v_proj_weight, Tensor::empty({E, options.vdim()})));
  }
  if (o.bias()) register_parameter("in_proj_bias", in_proj_bias, zeros({3 * E}));
  if (o.add_bias_kv()) {
    init::xavier_normal_(register_parameter("bias_k", bias_k, Tensor::empty({1, 1, E})));
    init::xavier_normal_(register_parameter("bias_v", bias_v, Tensor::empty({1, 1, E})));
  }
  out_proj = register_module("out_proj", std::make_shared<Linear>(E, E, o.bias()));
  if (o.bias()) init::zeros_(out_proj->bias);
  const AttentionVariant& a = o.attention();
  NABLA_CHECK(a.kind == AttentionVariant::Kind::softmax || (!o.add_bias_kv() && !o.add_zero_attn()),
              "MultiheadAttention: add_bias_kv and add_zero_attn are for softmax attention, not {}", a.str());
  if (a.kind == AttentionVariant::Kind::retention) {
    gate_proj = register_module("gate_proj", std::make_shared<Linear>(E, E, false));
    group_norm = register_module("group_norm", std::make_shared<GroupNorm>(H, E));
  }
}

AttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                            const Tensor& key_padding_mask, bool need_weights, const Tensor& attn_mask,
                                            bool average_attn_weights, bool is_causal) {
  const int64_t E = options.embed_dim(), H = options.num_heads(), hd = E / H;
  const bool batched = query.dim() == 3;
  NABLA_CHECK((query.dim() == 3 || query.dim() == 2) && key.dim() == query.dim() && value.dim() == query.dim(),
              "MultiheadAttention: expected query, key and value of 3 dims ([L, N, E]{}) or 2 (unbatched [L, E]), "
              "got {}, {} and {}", options.batch_first() ? ", batch_first: [N, L, E]" : "", shape_str(query.sizes()),
              shape_str(key.sizes()), shape_str(value.sizes()));
  // Batch-first inside: [N, L, E].
  auto batch_major = [&](const Tensor& t) {
    return !batched ? t.unsqueeze(0) : options.batch_first() ? t : t.transpose(0, 1);
  };
  Tensor q = batch_major(query), k = batch_major(key), v = batch_major(value);
  const int64_t N = q.sizes()[0], L = q.sizes()[1];
  int64_t S = k.sizes()[1];
  NABLA_CHECK(q.sizes()[2] == E && k.sizes()[2] == options.kdim() && v.sizes()[2] == options.vdim() &&
                  k.sizes()[0] == N && v.sizes()[0] == N && v.sizes()[1] == S,
              "MultiheadAttention(embed_dim={}, kdim={}, vdim={}{}): query {}, key {} and value {} do not fit", E,
              options.kdim(), options.vdim(), options.batch_first() ? ", batch_first" : "", shape_str(query.sizes()),
              shape_str(key.sizes()), shape_str(value.sizes()));
  auto part = [&](const Tensor& t, int64_t i) { return t.defined() ? t.narrow(0, i * E, E) : Tensor(); };
  const bool packed = in_proj_weight.defined();
  q = linear(q, packed ? part(in_proj_weight, 0) : q_proj_weight, part(in_proj_bias, 0));
  k = linear(k, packed ? part(in_proj_weight, 1) : k_proj_weight, part(in_proj_bias, 1));
  v = linear(v, packed ? part(in_proj_weight, 2) : v_proj_weight, part(in_proj_bias, 2));
  Tensor mask = combined_mask(key_padding_mask, attn_mask, N, H, L, S, batched, q.dtype());
  if (bias_k.defined()) {
    k = cat({k, bias_k.expand({N, 1, E})}, 1);
    v = cat({v, bias_v.expand({N, 1, E})}, 1);
    mask = attend_one_more(mask);
    ++S;
  }
  auto heads = [&](const Tensor& t) { return t.reshape({N, t.sizes()[1], H, hd}).transpose(1, 2); };  // [N, H, *, hd]
  q = heads(q), k = heads(k), v = heads(v);
  if (options.attention().kind != AttentionVariant::Kind::softmax)
    return forward_variant(query, key_padding_mask, attn_mask, q, k, v, need_weights, average_attn_weights, is_causal);
  if (options.add_zero_attn()) {
    k = cat({k, zeros({N, H, 1, hd}, k.dtype())}, 2);
    v = cat({v, zeros({N, H, 1, hd}, v.dtype())}, 2);
    mask = attend_one_more(mask);
  }
  const double p = is_training() ? options.dropout() : 0.0;
  AttentionOutput r;
  Tensor ctx;
  if (need_weights) {
    // The weights beside the fused output (PyTorch returns them after dropout, and then they make the output).
    Tensor w = scaled_dot_product_attention_weights(q, k, mask, is_causal);
    if (p > 0) {
      w = dropout(w, p, true);
      ctx = matmul(w, v);
    } else {
      ctx = scaled_dot_product_attention(q, k, v, mask, 0.0, is_causal);
    }
    r.weights = average_attn_weights ? mean(w, {1}) : w;
    if (!batched) r.weights = r.weights.squeeze(0);
  } else {
    ctx = scaled_dot_product_attention(q, k, v, mask, p, is_causal);
  }
  Tensor out = (*out_proj)(ctx.transpose(1, 2).reshape({N, L, E}));
  r.output = !batched ? out.squeeze(0) : options.batch_first() ? out : out.transpose(0, 1);
  return r;
}

AttentionOutput MultiheadAttention::forward_variant(const Tensor& query, const Tensor& kpm, const Tensor& attn_mask,
                                                    const Tensor& q, const Tensor& k, const Tensor& v, bool need_weights,
                                                    bool average_attn_weights, bool is_causal) {
  const AttentionVariant& a = options.attention();
  const int64_t E = options.embed_dim(), N = q.size(0), H = q.size(1), L = q.size(2), S = k.size(2);
  const bool batched = query.dim() == 3;
  Tensor mask, keep;
  if (a.recurrent()) {
    NABLA_CHECK(!attn_mask.defined(), "MultiheadAttention ({}): takes no attn_mask{}", a.str(),
                a.kind == AttentionVariant::Kind::linear ? " (causality with is_causal, padding with key_padding_mask)"
                                                         : " (causality with is_causal)");
    if (kpm.defined()) {
      NABLA_CHECK(kpm.dtype() == DType::boolean || kpm.dtype() == DType::u8,
                  "MultiheadAttention ({}): key_padding_mask must be bool (true = ignore that key), got {}", a.str(),
                  dtype_name(kpm.dtype()));
      const Shape want = batched ? Shape{N, S} : Shape{S};
      NABLA_CHECK(kpm.sizes() == want, "MultiheadAttention: key_padding_mask {} must be {}", shape_str(kpm.sizes()),
                  shape_str(want));
      keep = logical_not(kpm).reshape({N, 1, S});
    }
  } else {
    mask = combined_mask(kpm, attn_mask, N, H, L, S, batched, q.dtype());
  }
  const double p = is_training() ? options.dropout() : 0.0;
  AttentionOutput r;
  Tensor ctx;
  if (need_weights) {
    Tensor w = variant_attention_weights(a, q, k, mask, keep, is_causal);
    if (p > 0) w = dropout(w, p, true);
    ctx = p > 0 || a.kind == AttentionVariant::Kind::relu ? matmul(w, v) : variant_attention(a, q, k, v, mask, keep, is_causal);
    r.weights = average_attn_weights ? mean(w, {1}) : w;
    if (!batched) r.weights = r.weights.squeeze(0);
  } else {
    ctx = variant_attention(a, q, k, v, mask, keep, is_causal, p);
  }
  Tensor merged = ctx.transpose(1, 2).reshape({N, L, E});
  if (gate_proj) {
    // RetNet: a group norm per head (over each token's heads), then the swish gate of the input.
    Tensor x = !batched ? query.unsqueeze(0) : options.batch_first() ? query : query.transpose(0, 1);
    Tensor normed = (*group_norm)(merged.reshape({N * L, E})).reshape({N, L, E});
    merged = mul(silu((*gate_proj)(x)), normed);
  }
  Tensor out = (*out_proj)(merged);
  r.output = !batched ? out.squeeze(0) : options.batch_first() ? out : out.transpose(0, 1);
  return r;
}

Tensor MultiheadAttention::forward(const Tensor& x) { return forward(x, x, x, Tensor(), false).output; }

Tensors MultiheadAttention::forward_multi(const Tensors& in) {
  NABLA_CHECK(in.size() >= 3 && in.size() <= 5,
              "MultiheadAttention: takes query, key, value[, key_padding_mask[, attn_mask]], got {} tensors", in.size());
  AttentionOutput r = forward(in[0], in[1], in[2], in.size() > 3 ? in[3] : Tensor(), options.attention().has_weights(),
                              in.size() > 4 ? in[4] : Tensor());
  return {r.output, r.weights};
}

std::string MultiheadAttention::extra_repr() const {
  const std::string variant =
      options.attention().kind == AttentionVariant::Kind::softmax ? "" : ", attention=" + options.attention().str();
  return fmt::format("embed_dim={}, num_heads={}, dropout={}, batch_first={}{}", options.embed_dim(),
                     options.num_heads(), options.dropout(), options.batch_first() ? "True" : "False", variant);
}

}  // namespace nabla::nn
