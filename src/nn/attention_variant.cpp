// The attention variants behind one call: spec parsing, and each variant's
// masks and op.
#include "nabla/nn/attention_variant.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "nabla/ops/attention.h"
#include "nabla/ops/attention_variants.h"
#include "nabla/ops/elementwise.h"
#include "nabla/tensor/factory.h"

namespace nabla::nn {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

using Kind = AttentionVariant::Kind;

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::softmax: return "softmax";
    case Kind::linear: return "linear";
    case Kind::relu: return "relu";
    case Kind::retention: return "retention";
    case Kind::window: return "window";
    case Kind::neighborhood: return "neighborhood";
  }
  return "?";
}

// The variant's own mask (window, neighborhood, causality) as bool [L, S], true = attend; undefined: none.
Tensor structural_mask(const AttentionVariant& a, int64_t L, int64_t S, bool causal) {
  if (a.kind == Kind::window) {
    const int64_t before = causal ? a.size - 1 : (a.size - 1) / 2, after = causal ? 0 : a.size / 2;
    return sliding_window_mask(L, S, before, after);
  }
  if (a.kind == Kind::neighborhood) {
    NABLA_CHECK(!causal, "attention neighborhood:{}: neighborhoods are not causal", a.size);
    NABLA_CHECK(L == S, "attention neighborhood:{}: self-attention over a patch grid needs L == S, got {} and {}",
                a.size, L, S);
    const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(std::max<int64_t>(L - a.prefix, 0)))));
    NABLA_CHECK(L > a.prefix && side * side == L - a.prefix,
                "attention neighborhood:{}: {} tokens are not {} prefix token(s) and a square grid of patches", a.size,
                L, a.prefix);
    return neighborhood_mask(side, side, a.size, a.prefix);
  }
  // The queries are the last L positions; one query (decoding) sees every key.
  if (causal && L != S && L > 1) return sliding_window_mask(L, S, S, 0);
  return Tensor();
}

// The additive mask of softmax attention with the variant's own and the key mask folded in.
Tensor folded_mask(const AttentionVariant& a, const Tensor& mask, const Tensor& key_keep, int64_t L, int64_t S,
                   bool causal, DType dt) {
  Tensor m = mask;
  auto fold = [&](const Tensor& keep) {
    Tensor add_ = where(keep, zeros({}, dt), -kInf);
    m = m.defined() ? add(m, add_) : add_;
  };
  if (Tensor s = structural_mask(a, L, S, causal); s.defined()) fold(s);
  if (key_keep.defined()) fold(key_keep.unsqueeze(-2));
  return m;
}

void check_recurrent_masks(const AttentionVariant& a, const Tensor& mask, const Tensor& key_keep) {
  NABLA_CHECK(!mask.defined(), "attention {}: takes no attention mask (only causality{})", kind_name(a.kind),
              a.kind == Kind::linear ? " and a key padding mask" : "");
  NABLA_CHECK(!key_keep.defined() || a.kind == Kind::linear, "attention {}: takes no key padding mask",
              kind_name(a.kind));
}

}  // namespace

AttentionVariant AttentionVariant::parse(const std::string& spec) {
  AttentionVariant a;
  const auto colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  const Kind kinds[] = {Kind::softmax, Kind::linear, Kind::relu, Kind::retention, Kind::window, Kind::neighborhood};
  bool found = false;
  for (Kind k : kinds)
    if (name == kind_name(k)) a.kind = k, found = true;
  NABLA_CHECK(found, "unknown attention '{}' (expected softmax, linear, relu, retention, window:W or neighborhood:K)",
              spec);
  const bool sized = a.kind == Kind::window || a.kind == Kind::neighborhood;
  if (!sized) {
    NABLA_CHECK(arg.empty() && colon == std::string::npos, "attention '{}': {} takes no size", spec, name);
    return a;
  }
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(arg, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  NABLA_CHECK(!arg.empty() && used == arg.size() && n > 0 && n <= (1 << 20),
              "attention '{}': expected {}:N with N a positive whole number", spec, name);
  a.size = n;
  NABLA_CHECK(a.kind != Kind::neighborhood || n % 2 == 1, "attention '{}': the neighborhood's side must be odd", spec);
  return a;
}

std::string AttentionVariant::str() const {
  return size > 0 ? fmt::format("{}:{}", kind_name(kind), size) : std::string(kind_name(kind));
}

namespace {

// Causality the kernels' flag expresses (top-left, the same as bottom-right when
// L == S) stays the flag, for its fast path; otherwise it goes into the mask.
bool causal_flag(const AttentionVariant& a, int64_t L, int64_t S, bool causal) {
  return causal && L == S && (a.kind == Kind::softmax || a.kind == Kind::relu);
}

}  // namespace

Tensor variant_attention(const AttentionVariant& a, const Tensor& q, const Tensor& k, const Tensor& v,
                         const Tensor& mask, const Tensor& key_keep, bool causal, double p) {
  const int64_t L = q.size(-2), S = k.size(-2);
  const bool flag = causal_flag(a, L, S, causal);
  switch (a.kind) {
    case Kind::linear:
      check_recurrent_masks(a, mask, key_keep);
      return linear_attention(q, k, v, key_keep, causal, nullptr, a.chunk);
    case Kind::retention:
      check_recurrent_masks(a, mask, key_keep);
      NABLA_CHECK(causal, "attention retention: retention is causal; pass is_causal");
      return retention(q, k, v, retention_log_decays(q.size(-3), q.dtype()), RetentionForm::chunkwise, a.chunk);
    case Kind::relu:
      return relu_attention(q, k, v, folded_mask(a, mask, key_keep, L, S, causal && !flag, q.dtype()), flag);
    default:  // softmax, window and neighborhood on the fused kernel
      return scaled_dot_product_attention(q, k, v, folded_mask(a, mask, key_keep, L, S, causal && !flag, q.dtype()), p,
                                          flag);
  }
}

Tensor variant_attention_weights(const AttentionVariant& a, const Tensor& q, const Tensor& k, const Tensor& mask,
                                 const Tensor& key_keep, bool causal) {
  NABLA_CHECK(a.has_weights(), "attention {}: forms no weight matrix (need_weights is for softmax, relu, window and "
              "neighborhood attention)", kind_name(a.kind));
  const int64_t L = q.size(-2), S = k.size(-2);
  const bool flag = causal_flag(a, L, S, causal);
  Tensor m = folded_mask(a, mask, key_keep, L, S, causal && !flag, q.dtype());
  return a.kind == Kind::relu ? relu_attention_weights(q, k, m, flag) : scaled_dot_product_attention_weights(q, k, m, flag);
}

}  // namespace nabla::nn
