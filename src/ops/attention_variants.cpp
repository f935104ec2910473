// Linear attention, ReLU attention, retention and the sliding-window and
// neighborhood masks. Linear attention and retention share one causal core:
// decayed linear attention in chunks, whose chunk of 1 is the recurrence and
// whose single chunk is the parallel form.
#include "nabla/ops/attention_variants.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "nabla/ops/activation.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/reduce.h"
#include "nabla/ops/shape.h"
#include "nabla/tensor/factory.h"
#include "ops/attention_checks.h"
#include "ops/reduced.h"

namespace nabla {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// q [..., L, E], k [..., S, E], v [..., S, Ev] with equal leading dims and one floating dtype.
void check_qkv(const Tensor& q, const Tensor& k, const Tensor& v, const char* op) {
  detail::check_attention_operands(q, k, v, op);
  const int64_t n = q.dim();
  const Shape lead(q.sizes().begin(), q.sizes().end() - 2);
  NABLA_CHECK(Shape(k.sizes().begin(), k.sizes().end() - 2) == lead &&
                  Shape(v.sizes().begin(), v.sizes().end() - 2) == lead && k.sizes()[n - 1] == q.sizes()[n - 1] &&
                  v.sizes()[n - 2] == k.sizes()[n - 2],
              "{}: query {}, key {} and value {} must be [..., L, E], [..., S, E] and [..., S, Ev] with the same "
              "leading dims", op, shape_str(q.sizes()), shape_str(k.sizes()), shape_str(v.sizes()));
}

// The state S [..., E, Ev] a causal call starts from must fit q's leading dims.
void check_state(const Tensor& s, const Tensor& q, int64_t Ev, const char* op, const char* what) {
  if (!s.defined()) return;
  Shape want(q.sizes().begin(), q.sizes().end() - 2);
  want.insert(want.end(), {q.sizes().back(), Ev});
  NABLA_CHECK(s.sizes() == want && s.dtype() == q.dtype(), "{}: the {} {} {} must be {} {} for query {}", op, what,
              dtype_name(s.dtype()), shape_str(s.sizes()), dtype_name(q.dtype()), shape_str(want),
              shape_str(q.sizes()));
}

// Positions 0 .. n-1 as [n, 1] (rows) or [1, n] (columns), in dt.
Tensor positions(int64_t n, DType dt, bool rows) {
  Tensor p = arange(static_cast<double>(n), dt);
  return rows ? p.unsqueeze(1) : p.unsqueeze(0);
}

// gamma^(i-j) for j <= i and 0 above the diagonal: [H, n, n] from log_decay
// [H] (undefined: gamma = 1, the lower triangle of ones [n, n]).
Tensor decay_matrix(const Tensor& logd, int64_t n, DType dt) {
  Tensor i = positions(n, dt, true), j = positions(n, dt, false);
  Tensor below = le(j, i);
  if (!logd.defined()) return where(below, ones({}, dt), 0.0);
  Tensor age = clamp(sub(i, j), 0.0, std::nullopt);  // 0 above the diagonal, so exp never overflows there
  return where(below, exp(mul(logd.view({-1, 1, 1}), age)), 0.0);
}

// gamma^(p) per head for positions p of `pos` ([n, 1]): [H, n, 1]; undefined logd: undefined.
Tensor decay_powers(const Tensor& logd, const Tensor& pos) {
  return logd.defined() ? exp(mul(logd.view({-1, 1, 1}), pos)) : Tensor();
}

// sum_{j <= i} gamma^(i-j) (q_i . k_j) v_j + gamma^(i+1) q_i S, in chunks of
// `chunk`; S ([..., E, Ev] or undefined for none) becomes the state after the
// last token when `want_state`. q, k [..., L, E], v [..., L, Ev].
Tensor decayed_causal(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& logd, int64_t chunk, Tensor& S,
                      bool want_state) {
  const int64_t L = q.size(-2);
  const DType dt = q.dtype();
  const int64_t step = chunk <= 0 ? std::max<int64_t>(L, 1) : chunk;
  std::vector<Tensor> outs;
  for (int64_t c0 = 0; c0 < L; c0 += step) {
    const int64_t n = std::min(step, L - c0);
    Tensor qc = q.narrow(-2, c0, n), kc = k.narrow(-2, c0, n), vc = v.narrow(-2, c0, n);
    // One token (the recurrence) sees only itself inside its chunk, at decay 1.
    Tensor out = n == 1 ? mul(sum(mul(qc, kc), {-1}, true), vc)
                        : matmul(mul(matmul(qc, kc.transpose(-2, -1)), decay_matrix(logd, n, dt)), vc);
    if (S.defined()) {
      Tensor cross = matmul(qc, S);
      if (logd.defined()) cross = mul(cross, decay_powers(logd, add(positions(n, dt, true), 1.0)));
      out = add(out, cross);
    }
    outs.push_back(out);
    if (want_state || c0 + n < L) {
      // S <- gamma^n S + sum_j gamma^(n-1-j) k_j^T v_j.
      Tensor kw = logd.defined() ? mul(kc, decay_powers(logd, add(neg(positions(n, dt, true)), static_cast<double>(n - 1))))
                                 : kc;
      Tensor added = matmul(kw.transpose(-2, -1), vc);
      if (!S.defined()) {
        S = added;
      } else {
        Tensor carried = logd.defined() ? mul(S, exp(mul(logd.view({-1, 1, 1}), static_cast<double>(n)))) : S;
        S = add(carried, added);
      }
    }
  }
  if (outs.empty()) {  // no tokens: an empty output on the graph
    Shape s = q.sizes();
    s.back() = v.size(-1);
    return mul(sum(q, {-1}, true), zeros({}, dt)).expand(s);
  }
  return outs.size() == 1 ? outs[0] : cat(outs, -2);
}

Tensor linear_attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask, bool causal,
                             LinearAttentionState* state, int64_t chunk, double eps) {
  const char* op = "linear_attention";
  check_qkv(q, k, v, op);
  NABLA_CHECK(eps >= 0, "{}: eps must be >= 0, got {}", op, eps);
  const int64_t L = q.size(-2), S = k.size(-2), Ev = v.size(-1);
  NABLA_CHECK(!causal || L == S, "{}: causal attention needs as many keys as queries (the state holds earlier "
              "tokens), got query {} and key {}", op, shape_str(q.sizes()), shape_str(k.sizes()));
  NABLA_CHECK(!state || causal, "{}: a state carries causal attention across calls; pass is_causal=true", op);
  Tensor fq = elu_feature_map(q), fk = elu_feature_map(k);
  if (key_mask.defined()) {
    NABLA_CHECK(key_mask.dtype() == DType::boolean || key_mask.dtype() == DType::u8,
                "{}: key_mask must be bool (true = attend), got {}", op, dtype_name(key_mask.dtype()));
    fk = where(key_mask.unsqueeze(-1), fk, 0.0);
    NABLA_CHECK(fk.sizes() == k.sizes(), "{}: key_mask {} does not broadcast to the keys [..., S] of key {}", op,
                shape_str(key_mask.sizes()), shape_str(k.sizes()));
  }
  // The normalizer rides along as a column of ones beside the values.
  Shape ones_shape = v.sizes();
  ones_shape.back() = 1;
  Tensor v1 = cat({v, ones(ones_shape, v.dtype())}, -1);
  Tensor num;
  if (!causal) {
    num = matmul(fq, matmul(fk.transpose(-2, -1), v1));
  } else {
    Tensor s;
    if (state && state->kv.defined()) {
      check_state(state->kv, q, Ev, op, "state's kv");
      check_state(state->z.defined() ? state->z.unsqueeze(-1) : state->z, q, 1, op, "state's z");
      s = cat({state->kv, state->z.unsqueeze(-1)}, -1);
    }
    num = decayed_causal(fq, fk, v1, Tensor(), chunk, s, state != nullptr);
    if (state) {
      state->kv = s.narrow(-1, 0, Ev);
      state->z = s.select(-1, Ev);
    }
  }
  return div(num.narrow(-1, 0, Ev), add(num.narrow(-1, Ev, 1), eps));
}

Tensor retention_impl(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& logd, RetentionForm form,
                      int64_t chunk, Tensor* state, std::optional<double> scale) {
  const char* op = "retention";
  check_qkv(q, k, v, op);
  NABLA_CHECK(q.dim() >= 3, "{}: expected heads: query [..., H, L, E], got {}", op, shape_str(q.sizes()));
  const int64_t H = q.size(-3), L = q.size(-2), S = k.size(-2), E = q.size(-1), Ev = v.size(-1);
  NABLA_CHECK(L == S, "{}: retention is causal self-attention: as many keys as queries, got query {} and key {}", op,
              shape_str(q.sizes()), shape_str(k.sizes()));
  NABLA_CHECK(logd.defined() && logd.dim() == 1 && logd.size(0) == H && is_floating(logd.dtype()),
              "{}: log_decay must be [heads] = [{}] floating, got {}", op, H,
              logd.defined() ? shape_str(logd.sizes()) : std::string("none"));
  NABLA_CHECK(form != RetentionForm::chunkwise || chunk > 0, "{}: the chunkwise form needs chunk > 0, got {}", op,
              chunk);
  Tensor s;
  if (state && state->defined()) {
    check_state(*state, q, Ev, op, "state");
    s = *state;
  }
  const double sc = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(E));
  const int64_t c = form == RetentionForm::parallel ? 0 : form == RetentionForm::recurrent ? 1 : chunk;
  Tensor ld = logd.dtype() == q.dtype() ? logd : logd.to(q.dtype());
  Tensor out = decayed_causal(mul(q, sc), k, v, ld, c, s, state != nullptr);
  if (state) *state = s;
  return out;
}

}  // namespace

Tensor elu_feature_map(const Tensor& x) { return add(elu(x), 1.0); }

Tensor linear_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask, bool is_causal,
                        LinearAttentionState* state, int64_t chunk, double eps) {
  if (auto r = detail::reduced_entry(
          [&](const Tensor& q_, const Tensor& k_, const Tensor& v_) {
            return linear_attention_impl(q_, k_, v_, key_mask, is_causal, state, chunk, eps);
          },
          q, k, v))
    return *r;
  return linear_attention_impl(q, k, v, key_mask, is_causal, state, chunk, eps);
}

Tensor relu_attention_weights(const Tensor& q, const Tensor& k, const Tensor& attn_mask, bool is_causal,
                              std::optional<double> scale) {
  if (auto r = detail::reduced_entry(
          [&](const Tensor& q_, const Tensor& k_) { return relu_attention_weights(q_, k_, attn_mask, is_causal, scale); },
          q, k))
    return *r;
  const char* op = "relu_attention";
  check_qkv(q, k, k, op);
  const int64_t L = q.size(-2), S = k.size(-2), E = q.size(-1);
  const DType dt = q.dtype();
  Tensor s = mul(matmul(q, k.transpose(-2, -1)), scale ? *scale : 1.0 / std::sqrt(static_cast<double>(E)));
  if (is_causal) s = masked_fill(s, gt(positions(S, dt, false), positions(L, dt, true)), -kInf);
  if (attn_mask.defined()) {
    Shape scores = s.sizes();
    bool fits = attn_mask.dim() <= s.dim();
    for (int64_t i = 1; fits && i <= attn_mask.dim(); ++i) {
      const int64_t m = attn_mask.size(-i);
      fits = m == 1 || m == scores[scores.size() - static_cast<size_t>(i)];
    }
    NABLA_CHECK(fits, "{}: attn_mask {} does not broadcast to the scores {}", op, shape_str(attn_mask.sizes()),
                shape_str(scores));
    if (attn_mask.dtype() == DType::boolean || attn_mask.dtype() == DType::u8) {
      s = masked_fill(s, logical_not(attn_mask), -kInf);
    } else {
      NABLA_CHECK(is_floating(attn_mask.dtype()), "{}: attn_mask must be bool or floating, got {}", op,
                  dtype_name(attn_mask.dtype()));
      s = add(s, attn_mask.dtype() == dt ? attn_mask : attn_mask.to(dt));
    }
  }
  // The keys each row may see: the entries not at -inf (causality, masks), at least one.
  Tensor seen = clamp(sum(ne(s.detach(), full({}, -kInf, dt)).to(dt), {-1}, true), 1.0, std::nullopt);
  return div(relu(s), seen);
}

Tensor relu_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask, bool is_causal,
                      std::optional<double> scale) {
  if (auto r = detail::reduced_entry(
          [&](const Tensor& q_, const Tensor& k_, const Tensor& v_) {
            return relu_attention(q_, k_, v_, attn_mask, is_causal, scale);
          },
          q, k, v))
    return *r;
  check_qkv(q, k, v, "relu_attention");
  return matmul(relu_attention_weights(q, k, attn_mask, is_causal, scale), v);
}

Tensor retention_log_decays(int64_t heads, DType dtype) {
  NABLA_CHECK(heads > 0, "retention_log_decays: heads must be positive, got {}", heads);
  std::vector<double> d(static_cast<size_t>(heads));
  for (int64_t h = 0; h < heads; ++h) d[static_cast<size_t>(h)] = std::log1p(-std::exp2(-5.0 - static_cast<double>(h)));
  return from_vector(d, {heads}, dtype);
}

Tensor retention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& log_decay, RetentionForm form,
                 int64_t chunk, Tensor* state, std::optional<double> scale) {
  if (auto r = detail::reduced_entry(
          [&](const Tensor& q_, const Tensor& k_, const Tensor& v_) {
            return retention_impl(q_, k_, v_, log_decay, form, chunk, state, scale);
          },
          q, k, v))
    return *r;
  return retention_impl(q, k, v, log_decay, form, chunk, state, scale);
}

Tensor sliding_window_mask(int64_t L, int64_t S, int64_t before, int64_t after, std::optional<int64_t> offset) {
  NABLA_CHECK(L >= 0 && S >= 0 && before >= 0 && after >= 0,
              "sliding_window_mask: sizes and window must be >= 0, got L {}, S {}, before {}, after {}", L, S, before,
              after);
  const auto first = static_cast<double>(offset ? *offset : S - L);
  Tensor p = arange(first, first + static_cast<double>(L), 1.0, DType::f64).unsqueeze(1);
  Tensor j = arange(static_cast<double>(S), DType::f64).unsqueeze(0);
  return logical_and(ge(j, add(p, -static_cast<double>(before))), le(j, add(p, static_cast<double>(after))));
}

Tensor neighborhood_mask(int64_t grid_h, int64_t grid_w, int64_t kernel, int64_t prefix) {
  NABLA_CHECK(grid_h > 0 && grid_w > 0 && prefix >= 0, "neighborhood_mask: grid {}x{} and prefix {} must be positive",
              grid_h, grid_w, prefix);
  NABLA_CHECK(kernel > 0 && kernel % 2 == 1 && kernel <= std::min(grid_h, grid_w),
              "neighborhood_mask: kernel must be odd and at most the grid {}x{}, got {}", grid_h, grid_w, kernel);
  const int64_t N = prefix + grid_h * grid_w, r = kernel / 2;
  std::vector<double> m(static_cast<size_t>(N * N), 0.0);
  auto at = [&](int64_t i, int64_t j) -> double& { return m[static_cast<size_t>(i * N + j)]; };
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j)
      if (i < prefix || j < prefix) at(i, j) = 1.0;
  // The window's first row (column): centred on the patch, shifted inward at the borders.
  auto start = [&](int64_t x, int64_t n) { return std::clamp<int64_t>(x - r, 0, n - kernel); };
  for (int64_t y = 0; y < grid_h; ++y)
    for (int64_t x = 0; x < grid_w; ++x) {
      const int64_t y0 = start(y, grid_h), x0 = start(x, grid_w), i = prefix + y * grid_w + x;
      for (int64_t yy = y0; yy < y0 + kernel; ++yy)
        for (int64_t xx = x0; xx < x0 + kernel; ++xx) at(i, prefix + yy * grid_w + xx) = 1.0;
    }
  return from_vector(m, {N, N}, DType::f32).to(DType::boolean);
}

}  // namespace nabla
