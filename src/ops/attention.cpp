// scaled_dot_product_attention: shapes and masks checked and normalized here,
// the fused kernel (kernels/cpu/attention.cpp) as an autograd::Function whose
// composite is the math path.
#include "nabla/ops/attention.h"

#include <any>
#include <cmath>
#include <limits>

#include "kernels/cpu/attention.h"
#include "nabla/autograd/function.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/norm.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"
#include "nabla/tensor/layout.h"
#include "ops/attention_checks.h"
#include "ops/reduced.h"

namespace nabla {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Heads {
  Shape lead;     // the leading dims, before the head dim
  bool headed;    // inputs of 3 dims or more: a head dim
  int64_t B, Hq, Hk, L, S, E, Ev;
  Shape scores() const { return with_rows(S); }  // [..., Hq, L, S]
  Shape with_rows(int64_t last) const {           // [..., Hq, L, last]
    Shape s = lead;
    if (headed) s.push_back(Hq);
    s.insert(s.end(), {L, last});
    return s;
  }
};

Heads check_heads(const Tensor& q, const Tensor& k, const Tensor& v, bool gqa, const char* op) {
  detail::check_attention_operands(q, k, v, op);
  const int64_t n = q.dim();
  Heads h{};
  h.L = q.sizes()[n - 2], h.E = q.sizes()[n - 1], h.S = k.sizes()[n - 2], h.Ev = v.sizes()[n - 1];
  NABLA_CHECK(k.sizes()[n - 1] == h.E && v.sizes()[n - 2] == h.S,
              "{}: key {} must be [..., S, {}] and value {} [..., S, Ev] with key's S (query {})", op,
              shape_str(k.sizes()), h.E, shape_str(v.sizes()), shape_str(q.sizes()));
  h.headed = n >= 3;
  h.Hq = n >= 3 ? q.sizes()[n - 3] : 1;
  h.Hk = n >= 3 ? k.sizes()[n - 3] : 1;
  h.lead = n >= 3 ? Shape(q.sizes().begin(), q.sizes().end() - 3) : Shape{};
  const bool same_lead = n < 3 || (Shape(k.sizes().begin(), k.sizes().end() - 3) == h.lead &&
                                   Shape(v.sizes().begin(), v.sizes().end() - 3) == h.lead && v.sizes()[n - 3] == h.Hk);
  NABLA_CHECK(same_lead, "{}: query {}, key {} and value {} must agree in their leading dims (key and value in heads)",
              op, shape_str(q.sizes()), shape_str(k.sizes()), shape_str(v.sizes()));
  if (h.Hq != h.Hk)
    NABLA_CHECK(gqa && h.Hk > 0 && h.Hq % h.Hk == 0,
                "{}: query has {} heads and key/value {}: {}", op, h.Hq, h.Hk,
                gqa ? "grouped heads need a multiple" : "pass enable_gqa=true for grouped key/value heads");
  h.B = shape_numel(h.lead);
  return h;
}

// The mask as scores to add, in `dt`: bool (u8 read as nonzero) true -> 0, false -> -inf.
Tensor additive_mask(const Tensor& mask, const Heads& h, DType dt, const char* op) {
  if (!mask.defined()) return mask;
  const Shape full = h.scores();
  bool fits = mask.dim() <= static_cast<int64_t>(full.size());
  for (int64_t i = 1; fits && i <= mask.dim(); ++i) {
    const int64_t m = mask.sizes()[mask.dim() - i], f = full[full.size() - i];
    fits = m == 1 || m == f;
  }
  NABLA_CHECK(fits, "{}: attn_mask {} does not broadcast to the scores {}", op, shape_str(mask.sizes()),
              shape_str(full));
  if (mask.dtype() == DType::boolean || mask.dtype() == DType::u8)
    return where(mask, zeros({}, dt), -kInf);
  NABLA_CHECK(is_floating(mask.dtype()), "{}: attn_mask must be bool or floating, got {}", op,
              dtype_name(mask.dtype()));
  return mask.dtype() == dt ? mask : mask.to(dt);
}

Tensor repeat_heads(const Tensor& t, const Heads& h) {
  if (h.Hq == h.Hk) return t;
  const int64_t n = t.dim(), g = h.Hq / h.Hk;
  Shape grouped = h.lead;
  grouped.insert(grouped.end(), {h.Hk, g, t.sizes()[n - 2], t.sizes()[n - 1]});
  Shape flat = h.lead;
  flat.insert(flat.end(), {h.Hq, t.sizes()[n - 2], t.sizes()[n - 1]});
  return t.unsqueeze(n - 2).expand(grouped).reshape(flat);
}

// softmax(q k^T scale + mask) with causality, rows that see no key 0, from
// recorded ops; `add_mask` additive or undefined.
Tensor attention_probs(const Tensor& q, const Tensor& k, const Tensor& add_mask, const Heads& h, bool causal,
                       double scale) {
  Tensor s = mul(matmul(q, repeat_heads(k, h).transpose(-2, -1)), scale);
  if (causal) {
    Tensor hidden = gt(arange(static_cast<double>(h.S)).unsqueeze(0), arange(static_cast<double>(h.L)).unsqueeze(1));
    s = masked_fill(s, hidden, -kInf);
  }
  if (add_mask.defined()) s = add(s, add_mask);
  if (h.S == 0) return s;  // no keys: an empty row of weights
  // Rows that see no key: softmax would give NaN; they give 0, as the fused kernel does.
  Tensor none = eq(amax(s.detach(), {-1}, true), full({}, -kInf, s.dtype()));
  return masked_fill(softmax(masked_fill(s, none, 0.0), -1), none, 0.0);
}

// The composition on an additive (or undefined) mask.
Tensor attention_math(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& add_mask, const Heads& h,
                      double dropout_p, bool causal, double scale, Generator* gen) {
  Tensor p = attention_probs(q, k, add_mask, h, causal, scale);
  if (dropout_p > 0) p = dropout(p, dropout_p, true, gen);
  return matmul(p, repeat_heads(v, h));  // no keys: zeros, still on the graph
}

struct FusedAttention : autograd::Function<FusedAttention> {
  static constexpr const char* name = "scaled_dot_product_attention";
  struct Args {
    Heads h;
    double scale;
    bool causal;
  };

  // The additive mask as the kernel reads it: [B, Hq, L, S] strides (0 where it broadcasts), S contiguous.
  static Tensor kernel_mask(const Tensor& m, const Heads& h) {
    if (!m.defined()) return m;
    Tensor e = m.expand(h.scores()).reshape({h.B, h.Hq, h.L, h.S});
    return e.strides()[3] == 1 || h.S == 1 ? e : e.contiguous();
  }

  static kernels::AttentionGeom geom(const Args& a, const Tensor& mask) {
    kernels::AttentionGeom g{a.h.B, a.h.Hq, a.h.Hk, a.h.L, a.h.S, a.h.E, a.h.Ev, a.scale, a.causal};
    if (mask.defined()) g.mask_b = mask.strides()[0], g.mask_h = mask.strides()[1], g.mask_i = mask.strides()[2];
    return g;
  }

  static std::vector<Tensor> forward(autograd::FunctionContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                                     const Tensor& add_mask, Args a) {
    Tensor qc = contiguous_copy(q), kc = contiguous_copy(k), vc = contiguous_copy(v);
    Tensor mask = kernel_mask(add_mask, a.h);
    Shape ls = a.h.with_rows(1);
    ls.pop_back();
    Tensor out = Tensor::empty(a.h.with_rows(a.h.Ev), q.dtype()), lse = Tensor::empty(ls, q.dtype());
    const kernels::AttentionGeom g = geom(a, mask);
    dispatch_floating(q.dtype(), name, [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels::attention_forward<T>(g, qc.const_data<T>(), kc.const_data<T>(), vc.const_data<T>(),
                                    mask.defined() ? mask.const_data<T>() : nullptr, out.data<T>(), lse.data<T>());
    });
    ctx.save_for_backward({qc, kc, vc, mask, out, lse});
    ctx.saved_data["args"] = a;
    return {out, lse};
  }

  static std::vector<Tensor> backward(autograd::FunctionContext& ctx, const std::vector<Tensor>& grads) {
    NABLA_CHECK(!grads[1].defined(), "{}: the log-sum-exp output has no gradient", name);
    const auto& sv = ctx.saved();
    const Tensor &q = sv[0], &k = sv[1], &v = sv[2], &mask = sv[3], &out = sv[4], &lse = sv[5];
    const Args a = std::any_cast<Args>(ctx.saved_data.at("args"));
    Tensor dout = contiguous_copy(grads[0]);
    Tensor dq = ctx.needs_input_grad(0) ? Tensor::empty(q.sizes(), q.dtype()) : Tensor();
    Tensor dk = ctx.needs_input_grad(1) ? Tensor::empty(k.sizes(), k.dtype()) : Tensor();
    Tensor dv = ctx.needs_input_grad(2) ? Tensor::empty(v.sizes(), v.dtype()) : Tensor();
    const kernels::AttentionGeom g = geom(a, mask);
    dispatch_floating(q.dtype(), name, [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels::attention_backward<T>(g, q.const_data<T>(), k.const_data<T>(), v.const_data<T>(),
                                     mask.defined() ? mask.const_data<T>() : nullptr, out.const_data<T>(),
                                     dout.const_data<T>(), lse.const_data<T>(), dq.defined() ? dq.data<T>() : nullptr,
                                     dk.defined() ? dk.data<T>() : nullptr, dv.defined() ? dv.data<T>() : nullptr);
    });
    return {dq, dk, dv, Tensor()};
  }

  // The math path; the log-sum-exp output takes no gradient, so it has no composition.
  static std::vector<Tensor> composite(const autograd::FunctionContext& ctx, const std::vector<Tensor>& in) {
    const Args a = std::any_cast<Args>(ctx.saved_data.at("args"));
    return {attention_math(in[0], in[1], in[2], in[3], a.h, 0.0, a.causal, a.scale, nullptr), Tensor()};
  }
};

// Both entries: checks, then the composition or (`fused`, where it applies) the kernel.
Tensor sdpa(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double dropout_p, bool is_causal,
            std::optional<double> scale, bool enable_gqa, Generator* gen, bool fused) {
  const char* op = "scaled_dot_product_attention";
  if (auto r = detail::reduced_entry(
          [&](const Tensor& q_, const Tensor& k_, const Tensor& v_) {
            return sdpa(q_, k_, v_, mask, dropout_p, is_causal, scale, enable_gqa, gen, fused);
          },
          q, k, v))
    return *r;
  const Heads h = check_heads(q, k, v, enable_gqa, op);
  NABLA_CHECK(dropout_p >= 0 && dropout_p < 1, "{}: dropout_p must be in [0, 1), got {}", op, dropout_p);
  Tensor m = additive_mask(mask, h, q.dtype(), op);
  const double sc = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(h.E));
  // The kernel takes no dropout, no mask gradient and no empty input.
  const bool mask_grad = m.defined() && m.requires_grad() && grad_enabled();
  if (!fused || dropout_p > 0 || mask_grad || q.numel() == 0 || k.numel() == 0 || v.numel() == 0)
    return attention_math(q, k, v, m, h, dropout_p, is_causal, sc, gen);
  return FusedAttention::apply(q, k, v, m, FusedAttention::Args{h, sc, is_causal})[0];
}

}  // namespace

Tensor scaled_dot_product_attention_weights(const Tensor& q, const Tensor& k, const Tensor& mask, bool is_causal,
                                            std::optional<double> scale, bool enable_gqa) {
  const char* op = "scaled_dot_product_attention_weights";
  if (auto r = detail::reduced_entry(
          [&](const Tensor& q_, const Tensor& k_) {
            return scaled_dot_product_attention_weights(q_, k_, mask, is_causal, scale, enable_gqa);
          },
          q, k))
    return *r;
  const Heads h = check_heads(q, k, k, enable_gqa, op);
  const double sc = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(h.E));
  return attention_probs(q, k, additive_mask(mask, h, q.dtype(), op), h, is_causal, sc);
}

Tensor scaled_dot_product_attention_math(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                                         double dropout_p, bool is_causal, std::optional<double> scale,
                                         bool enable_gqa, Generator* gen) {
  return sdpa(q, k, v, mask, dropout_p, is_causal, scale, enable_gqa, gen, false);
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                                    double dropout_p, bool is_causal, std::optional<double> scale, bool enable_gqa,
                                    Generator* gen) {
  return sdpa(q, k, v, mask, dropout_p, is_causal, scale, enable_gqa, gen, true);
}

}  // namespace nabla
