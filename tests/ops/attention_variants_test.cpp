// Linear attention, ReLU attention and retention against plain loops written
// from the papers' formulas; the chunked, recurrent and parallel forms
// against each other; states carried across calls; f64 gradient checks;
// the sliding-window and neighborhood masks; bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.h"
#include "support/error_of.h"
#include "support/expect_close.h"
#include "support/gradcheck.h"

using namespace nabla;
using nabla::testing::error_of;
using nabla::testing::expect_close;
using nabla::testing::gradcheck;

namespace {

// q, k, v [G, L, E] / [G, S, Ev] as flat doubles, G the leading dims together.
struct Flat {
  int64_t G, L, S, E, Ev;
  std::vector<double> q, k, v;
  Flat(const Tensor& tq, const Tensor& tk, const Tensor& tv)
      : G(tq.numel() / (tq.size(-2) * tq.size(-1))), L(tq.size(-2)), S(tk.size(-2)), E(tq.size(-1)), Ev(tv.size(-1)),
        q(tq.to(DType::f64).contiguous().to_vector<double>()), k(tk.to(DType::f64).contiguous().to_vector<double>()),
        v(tv.to(DType::f64).contiguous().to_vector<double>()) {}
  double dot(int64_t g, int64_t i, int64_t j, bool feature) const {
    double s = 0;
    for (int64_t e = 0; e < E; ++e) {
      double a = q[(g * L + i) * E + e], b = k[(g * S + j) * E + e];
      if (feature) a = a > 0 ? a + 1 : std::exp(a), b = b > 0 ? b + 1 : std::exp(b);
      s += a * b;
    }
    return s;
  }
  // sum_j w(g, i, j) v_j, then divided by `norm(g, i)`.
  template <class W, class N> Tensor mix(const Shape& out_shape, W w, N norm) const {
    std::vector<double> o(static_cast<size_t>(G * L * Ev), 0.0);
    for (int64_t g = 0; g < G; ++g)
      for (int64_t i = 0; i < L; ++i) {
        const double n = norm(g, i);
        for (int64_t j = 0; j < S; ++j) {
          const double wij = w(g, i, j);
          for (int64_t e = 0; e < Ev; ++e) o[static_cast<size_t>((g * L + i) * Ev + e)] += wij * v[(g * S + j) * Ev + e] / n;
        }
      }
    return from_vector(o, out_shape, DType::f64);
  }
};

Shape out_shape(const Tensor& q, const Tensor& v) {
  Shape s = q.sizes();
  s.back() = v.size(-1);
  return s;
}

Tensor linear_reference(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double eps = 1e-6) {
  Flat f(q, k, v);
  auto w = [&](int64_t g, int64_t i, int64_t j) { return causal && j > i ? 0.0 : f.dot(g, i, j, true); };
  auto n = [&](int64_t g, int64_t i) {
    double s = 0;
    for (int64_t j = 0; j < f.S; ++j) s += w(g, i, j);
    return s + eps;
  };
  return f.mix(out_shape(q, v), w, n);
}

// Retention over [B, H, L, E] with decays gamma_h.
Tensor retention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const std::vector<double>& gamma) {
  Flat f(q, k, v);
  const int64_t H = q.size(-3);
  const double scale = 1.0 / std::sqrt(static_cast<double>(f.E));
  auto w = [&](int64_t g, int64_t i, int64_t j) {
    return j > i ? 0.0 : std::pow(gamma[static_cast<size_t>(g % H)], static_cast<double>(i - j)) * scale * f.dot(g, i, j, false);
  };
  return f.mix(out_shape(q, v), w, [](int64_t, int64_t) { return 1.0; });
}

TEST(LinearAttention, MatchesTheFormula) {
  Generator gen(3);
  Tensor q = randn({2, 3, 9, 4}, DType::f32, &gen), k = randn({2, 3, 9, 4}, DType::f32, &gen),
         v = randn({2, 3, 9, 5}, DType::f32, &gen);
  expect_close(linear_attention(q, k, v), linear_reference(q, k, v, false), 1e-5, "non-causal");
  for (int64_t chunk : {0, 1, 2, 4, 64})
    expect_close(linear_attention(q, k, v, Tensor(), true, nullptr, chunk), linear_reference(q, k, v, true), 1e-5,
                 "causal chunk " + std::to_string(chunk));
  // Cross attention, more keys than queries, and a 2-dim (headless) call.
  Tensor kk = randn({2, 3, 13, 4}, DType::f32, &gen), vv = randn({2, 3, 13, 5}, DType::f32, &gen);
  expect_close(linear_attention(q, kk, vv), linear_reference(q, kk, vv, false), 1e-5, "cross");
  Tensor q2 = q.select(0, 0).select(0, 0), k2 = k.select(0, 0).select(0, 0), v2 = v.select(0, 0).select(0, 0);
  expect_close(linear_attention(q2, k2, v2, Tensor(), true), linear_reference(q2, k2, v2, true), 1e-5, "2-dim");
}

TEST(LinearAttention, TheStateCarriesTheSumsAcrossCalls) {
  Generator gen(4);
  Tensor q = randn({2, 2, 11, 4}, DType::f32, &gen), k = randn({2, 2, 11, 4}, DType::f32, &gen),
         v = randn({2, 2, 11, 3}, DType::f32, &gen);
  Tensor whole = linear_attention(q, k, v, Tensor(), true);
  LinearAttentionState st;
  std::vector<Tensor> parts;
  int64_t at = 0;
  for (int64_t n : {4, 1, 1, 5}) {  // a prompt, then tokens one by one, then a window
    parts.push_back(linear_attention(q.narrow(2, at, n), k.narrow(2, at, n), v.narrow(2, at, n), Tensor(), true, &st));
    at += n;
  }
  expect_close(cat(parts, 2), whole, 1e-5, "pieces");
  ASSERT_EQ(st.kv.sizes(), Shape({2, 2, 4, 3}));
  ASSERT_EQ(st.z.sizes(), Shape({2, 2, 4}));
  // The state is the sums themselves.
  Tensor fk = elu_feature_map(k);
  expect_close(st.kv, matmul(fk.transpose(-2, -1), v), 1e-5, "kv");
  expect_close(st.z, sum(fk, {2}), 1e-5, "z");
}

TEST(LinearAttention, KeyMaskDropsKeys) {
  Generator gen(5);
  Tensor q = randn({2, 6, 4}, DType::f32, &gen), k = randn({2, 8, 4}, DType::f32, &gen),
         v = randn({2, 8, 3}, DType::f32, &gen);
  Tensor keep = from_vector({1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0}, {2, 8}, DType::f32).to(DType::boolean);
  Tensor got = linear_attention(q, k, v, keep);
  for (int64_t b = 0; b < 2; ++b) {
    std::vector<int64_t> idx;
    for (int64_t j = 0; j < 8; ++j)
      if (keep.select(0, b).select(0, j).item<bool>()) idx.push_back(j);
    std::vector<Tensor> ks, vs;
    for (int64_t j : idx) ks.push_back(k.select(0, b).narrow(0, j, 1)), vs.push_back(v.select(0, b).narrow(0, j, 1));
    expect_close(got.select(0, b), linear_reference(q.select(0, b), cat(ks, 0), cat(vs, 0), false), 1e-5,
                 "batch " + std::to_string(b));
  }
}

TEST(LinearAttention, GradientsCheckInDoublePrecision) {
  using nabla::testing::rand_input;
  for (bool causal : {false, true}) {
    Tensor q = rand_input({2, 5, 3}), k = rand_input({2, 5, 3}), v = rand_input({2, 5, 2});
    auto r = gradcheck(
        [&](const std::vector<Tensor>& in) { return linear_attention(in[0], in[1], in[2], Tensor(), causal, nullptr, 2); },
        {q, k, v});
    EXPECT_TRUE(r.ok) << (causal ? "causal: " : "non-causal: ") << r.message;
  }
  // Through a carried state (the second call's gradient reaches the first call's keys and values).
  Tensor q = rand_input({1, 6, 3}), k = rand_input({1, 6, 3}), v = rand_input({1, 6, 2});
  auto r = gradcheck(
      [](const std::vector<Tensor>& in) {
        LinearAttentionState st;
        Tensor a = linear_attention(in[0].narrow(1, 0, 4), in[1].narrow(1, 0, 4), in[2].narrow(1, 0, 4), Tensor(),
                                    true, &st, 3);
        Tensor b = linear_attention(in[0].narrow(1, 4, 2), in[1].narrow(1, 4, 2), in[2].narrow(1, 4, 2), Tensor(),
                                    true, &st, 1);
        return cat({a, b}, 1);
      },
      {q, nabla::testing::noncontiguous(k), v});
  EXPECT_TRUE(r.ok) << "state: " << r.message;
}

TEST(ReluAttention, MatchesTheFormula) {
  Generator gen(6);
  Tensor q = randn({2, 3, 7, 4}, DType::f32, &gen), k = randn({2, 3, 9, 4}, DType::f32, &gen),
         v = randn({2, 3, 9, 5}, DType::f32, &gen);
  Tensor keep = gt(rand({7, 9}, DType::f32, &gen), full({}, 0.3));
  for (int mode = 0; mode < 3; ++mode) {  // plain, causal, bool mask
    const bool causal = mode == 1;
    Flat f(q, k, v);
    auto visible = [&](int64_t i, int64_t j) {
      if (causal) return j <= i;
      if (mode == 2) return keep.select(0, i).select(0, j).item<bool>();
      return true;
    };
    auto w = [&](int64_t g, int64_t i, int64_t j) {
      return visible(i, j) ? std::max(0.0, f.dot(g, i, j, false) / 2.0) : 0.0;  // scale 1/sqrt(4)
    };
    auto n = [&](int64_t, int64_t i) {
      int64_t c = 0;
      for (int64_t j = 0; j < f.S; ++j) c += visible(i, j);
      return static_cast<double>(std::max<int64_t>(c, 1));
    };
    Tensor got = relu_attention(q, k, v, mode == 2 ? keep : Tensor(), causal);
    expect_close(got, f.mix(out_shape(q, v), w, n), 1e-5, "mode " + std::to_string(mode));
  }
  // An additive mask of 0 / -inf is the same as the boolean one.
  Tensor add_mask = where(keep, zeros({}), -INFINITY);
  expect_close(relu_attention(q, k, v, add_mask), relu_attention(q, k, v, keep), 1e-6, "additive");
}

TEST(ReluAttention, GradientsCheckInDoublePrecision) {
  using nabla::testing::rand_input;
  Tensor q = rand_input({2, 4, 3}), k = rand_input({2, 5, 3}), v = rand_input({2, 5, 2});
  Tensor keep = from_vector({1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1}, {4, 5}, DType::f32)
                    .to(DType::boolean);
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return relu_attention(in[0], in[1], in[2], keep); }, {q, k, v});
  EXPECT_TRUE(r.ok) << r.message;
  auto rc = gradcheck(
      [&](const std::vector<Tensor>& in) { return relu_attention(in[0], in[1], in[2], Tensor(), true); },
      {rand_input({1, 5, 3}), rand_input({1, 5, 3}), rand_input({1, 5, 2})});
  EXPECT_TRUE(rc.ok) << rc.message;
}

TEST(Retention, TheThreeFormsAgreeWithTheFormula) {
  Generator gen(8);
  const int64_t H = 4;
  Tensor q = randn({2, H, 50, 8}, DType::f32, &gen), k = randn({2, H, 50, 8}, DType::f32, &gen),
         v = randn({2, H, 50, 6}, DType::f32, &gen);
  Tensor logd = retention_log_decays(H);
  std::vector<double> gamma;
  for (int64_t h = 0; h < H; ++h) gamma.push_back(1.0 - std::exp2(-5.0 - static_cast<double>(h)));
  expect_close(exp(logd).to(DType::f64), from_vector(gamma, {H}, DType::f64), 1e-7, "decays");
  Tensor want = retention_reference(q, k, v, gamma);
  Tensor par = retention(q, k, v, logd, RetentionForm::parallel);
  Tensor rec = retention(q, k, v, logd, RetentionForm::recurrent);
  expect_close(par, want, 1e-5, "parallel");
  expect_close(rec, par, 1e-5, "recurrent vs parallel");
  for (int64_t chunk : {7, 16, 64})
    expect_close(retention(q, k, v, logd, RetentionForm::chunkwise, chunk), par, 1e-5,
                 "chunkwise " + std::to_string(chunk) + " vs parallel");
}

TEST(Retention, TheStateCarriesAcrossCalls) {
  Generator gen(9);
  Tensor q = randn({1, 3, 20, 4}, DType::f32, &gen), k = randn({1, 3, 20, 4}, DType::f32, &gen),
         v = randn({1, 3, 20, 4}, DType::f32, &gen);
  Tensor logd = retention_log_decays(3);
  Tensor whole = retention(q, k, v, logd, RetentionForm::parallel);
  Tensor st;
  std::vector<Tensor> parts;
  int64_t at = 0;
  const std::pair<int64_t, RetentionForm> pieces[] = {
      {9, RetentionForm::chunkwise}, {1, RetentionForm::recurrent}, {6, RetentionForm::parallel}, {4, RetentionForm::recurrent}};
  for (auto [n, form] : pieces) {
    parts.push_back(retention(q.narrow(2, at, n), k.narrow(2, at, n), v.narrow(2, at, n), logd, form, 4, &st));
    at += n;
  }
  expect_close(cat(parts, 2), whole, 1e-5, "pieces");
  // S after the last token: sum_j gamma^(T-1-j) k_j^T v_j.
  Tensor age = add(neg(arange(20.0)), 19.0);
  Tensor w = exp(mul(logd.view({3, 1}), age.unsqueeze(0))).unsqueeze(-1);  // [3, 20, 1]
  expect_close(st, matmul(mul(k, w).transpose(-2, -1), v), 1e-5, "state");
}

TEST(Retention, GradientsCheckInDoublePrecision) {
  using nabla::testing::rand_input;
  Tensor logd = retention_log_decays(2, DType::f64);
  for (RetentionForm form : {RetentionForm::parallel, RetentionForm::recurrent, RetentionForm::chunkwise}) {
    auto r = gradcheck(
        [&](const std::vector<Tensor>& in) { return retention(in[0], in[1], in[2], logd, form, 2); },
        {rand_input({2, 5, 3}), rand_input({2, 5, 3}), rand_input({2, 5, 2})});
    EXPECT_TRUE(r.ok) << static_cast<int>(form) << ": " << r.message;
  }
}

TEST(AttentionVariants, EmptyInputs) {
  Tensor q = zeros({2, 0, 4}), v = zeros({2, 0, 3});
  EXPECT_EQ(linear_attention(q, q, v, Tensor(), true).sizes(), Shape({2, 0, 3}));
  EXPECT_EQ(linear_attention(q, q, v).sizes(), Shape({2, 0, 3}));
  EXPECT_EQ(relu_attention(q, q, v).sizes(), Shape({2, 0, 3}));
  EXPECT_EQ(retention(q, q, v, retention_log_decays(2)).sizes(), Shape({2, 0, 3}));
  // Queries but no keys: nothing to attend, zeros.
  Tensor got = relu_attention(ones({2, 3, 4}), zeros({2, 0, 4}), zeros({2, 0, 5}));
  EXPECT_EQ(got.sizes(), Shape({2, 3, 5}));
  EXPECT_EQ(sum(abs(got)).item<float>(), 0.0f);
}

TEST(AttentionMasks, SlidingWindow) {
  Tensor m = sliding_window_mask(4, 6, 2, 0);  // queries at 2..5
  std::vector<float> want = {1, 1, 1, 0, 0, 0,  //
                             0, 1, 1, 1, 0, 0,  //
                             0, 0, 1, 1, 1, 0,  //
                             0, 0, 0, 1, 1, 1};
  EXPECT_EQ(m.dtype(), DType::boolean);
  EXPECT_EQ(m.to(DType::f32).to_vector<float>(), want);
  Tensor sym = sliding_window_mask(3, 3, 1, 1, 0);
  EXPECT_EQ(sym.to(DType::f32).to_vector<float>(), std::vector<float>({1, 1, 0, 1, 1, 1, 0, 1, 1}));
  // The window on the fused kernel equals a composition that slices the keys.
  Generator gen(2);
  Tensor q = randn({1, 2, 10, 4}, DType::f32, &gen), k = randn({1, 2, 10, 4}, DType::f32, &gen),
         v = randn({1, 2, 10, 4}, DType::f32, &gen);
  Tensor out = scaled_dot_product_attention(q, k, v, sliding_window_mask(10, 10, 3, 0));
  for (int64_t i = 0; i < 10; ++i) {
    const int64_t j0 = std::max<int64_t>(0, i - 3);
    Tensor ref = scaled_dot_product_attention(q.narrow(2, i, 1), k.narrow(2, j0, i - j0 + 1), v.narrow(2, j0, i - j0 + 1));
    expect_close(out.narrow(2, i, 1), ref, 1e-5, "row " + std::to_string(i));
  }
}

TEST(AttentionMasks, Neighborhood) {
  const int64_t gh = 4, gw = 5, kernel = 3, prefix = 1;
  Tensor m = neighborhood_mask(gh, gw, kernel, prefix).to(DType::f32);
  ASSERT_EQ(m.sizes(), Shape({21, 21}));
  Tensor seen = sum(m, {1});
  EXPECT_EQ(seen.select(0, 0).item<float>(), 21.0f);  // the class token sees all
  for (int64_t i = prefix; i < 21; ++i) EXPECT_EQ(seen.select(0, i).item<float>(), 1.0f + 9.0f) << i;
  // A corner patch (0, 0) sees rows 0..2 and columns 0..2 (the window shifted inward).
  auto sees = [&](int64_t from, int64_t y, int64_t x) { return m.select(0, from).select(0, prefix + y * gw + x).item<float>(); };
  EXPECT_EQ(sees(prefix, 2, 2), 1.0f);
  EXPECT_EQ(sees(prefix, 0, 3), 0.0f);
  // An interior patch (2, 2) sees (1..3, 1..3).
  const int64_t mid = prefix + 2 * gw + 2;
  EXPECT_EQ(sees(mid, 1, 1), 1.0f);
  EXPECT_EQ(sees(mid, 3, 3), 1.0f);
  EXPECT_EQ(sees(mid, 0, 2), 0.0f);
  EXPECT_EQ(sees(mid, 2, 4), 0.0f);
}

TEST(AttentionVariants, BadInput) {
  Tensor q = zeros({2, 5, 4}), k = zeros({2, 6, 4}), v = zeros({2, 6, 3});
  EXPECT_NE(error_of([&] { linear_attention(q, k, v, Tensor(), true); }).find("as many keys as queries"),
            std::string::npos);
  EXPECT_NE(error_of([&] { linear_attention(q, zeros({2, 6, 3}), v); }).find("[..., S, E]"), std::string::npos);
  EXPECT_NE(error_of([&] { retention(q, q, zeros({2, 5, 3}), retention_log_decays(3)); }).find("log_decay"),
            std::string::npos);
  Tensor bad_state = zeros({2, 4, 4});
  EXPECT_NE(error_of([&] { retention(q, q, zeros({2, 5, 3}), retention_log_decays(2), RetentionForm::chunkwise, 4,
                                     &bad_state); }).find("state"),
            std::string::npos);
  EXPECT_NE(error_of([&] { relu_attention(q, k, v, zeros({3, 6}, DType::boolean)); }).find("does not broadcast"),
            std::string::npos);
  EXPECT_NE(error_of([&] { neighborhood_mask(4, 4, 2); }).find("odd"), std::string::npos);
  EXPECT_NE(error_of([&] { neighborhood_mask(4, 4, 5); }).find("at most the grid"), std::string::npos);
}

}  // namespace
