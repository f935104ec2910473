// scaled_dot_product_attention: the fused kernel against its composition
// (f32, within 1e-5, forward and backward) over block tails, masks of both
// kinds, causality, grouped heads, the decode split and strided inputs; the
// mask convention; rows that see no key; bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.h"
#include "support/error_of.h"
#include "support/expect_close.h"

using namespace nabla;
using nabla::testing::error_of;
using nabla::testing::expect_close;

namespace {

struct Case {
  std::string name;
  Shape q, k, v, mask;
  bool bool_mask = false, causal = false, gqa = false;
};

// Fused and composed, forward and the three input gradients.
void compare(const Case& c, double tol = 1e-5) {
  Generator gen(42);
  Tensor q = randn(c.q, DType::f32, &gen), k = randn(c.k, DType::f32, &gen), v = randn(c.v, DType::f32, &gen);
  Tensor mask;
  if (!c.mask.empty()) mask = c.bool_mask ? gt(rand(c.mask, DType::f32, &gen), full({}, 0.3)) : randn(c.mask, DType::f32, &gen);
  std::vector<Tensor> got, want;
  for (bool fused : {true, false}) {
    Tensor qq = q.clone().requires_grad_(), kk = k.clone().requires_grad_(), vv = v.clone().requires_grad_();
    Tensor out = fused ? scaled_dot_product_attention(qq, kk, vv, mask, 0.0, c.causal, {}, c.gqa)
                       : scaled_dot_product_attention_math(qq, kk, vv, mask, 0.0, c.causal, {}, c.gqa);
    if (fused) {
      EXPECT_EQ(out.grad_fn()->name, "scaled_dot_product_attention") << c.name;
    }
    Generator g2(7);
    out.backward(randn(out.sizes(), DType::f32, &g2));
    (fused ? got : want) = {out, qq.grad(), kk.grad(), vv.grad()};
  }
  const char* what[] = {"output", "dq", "dk", "dv"};
  for (int i = 0; i < 4; ++i) expect_close(got[i], want[i], tol, c.name + " " + what[i]);
}

TEST(Attention, FusedMatchesTheComposition) {
  const std::vector<Case> cases = {
      {"plain, block tails", {2, 3, 70, 16}, {2, 3, 150, 16}, {2, 3, 150, 16}, {}},
      {"causal, L > S", {1, 2, 200, 8}, {1, 2, 130, 8}, {1, 2, 130, 12}, {}, false, true},
      {"bool mask, batch-broadcast", {2, 2, 65, 8}, {2, 2, 129, 8}, {2, 2, 129, 8}, {2, 1, 65, 129}, true},
      {"float mask [L, S], causal", {3, 66, 8}, {3, 66, 8}, {3, 66, 5}, {66, 66}, false, true},
      {"grouped heads", {2, 6, 40, 8}, {2, 2, 90, 8}, {2, 2, 90, 8}, {}, false, false, true},
      {"grouped heads, causal, mask [S]", {1, 4, 70, 4}, {1, 1, 70, 4}, {1, 1, 70, 4}, {70}, true, true, true},
      {"2-D", {33, 8}, {140, 8}, {140, 3}, {}},
      {"decode: one query, long cache", {1, 1, 1, 64}, {1, 1, 3000, 64}, {1, 1, 3000, 64}, {}},
      {"decode with mask and gqa", {2, 4, 1, 32}, {2, 2, 1500, 32}, {2, 2, 1500, 32}, {2, 1, 1, 1500}, true, false, true},
      {"leading dims", {2, 2, 2, 9, 4}, {2, 2, 2, 11, 4}, {2, 2, 2, 11, 4}, {}},
  };
  for (const Case& c : cases) compare(c);
}

TEST(Attention, TrueMeansAttendAndHiddenRowsAreZero) {
  Tensor q = randn({1, 1, 3, 4}), k = randn({1, 1, 5, 4}), v = randn({1, 1, 5, 2});
  // Row 0 sees key 2 only; row 1 sees nothing; row 2 sees everything.
  Tensor mask = zeros({3, 5}, DType::boolean);
  {
    NoGradGuard ng;
    mask.index_put_({0, 2}, true);
    mask.index_put_({2}, true);
  }
  Tensor qq = q.clone().requires_grad_(), vv = v.clone().requires_grad_();
  Tensor out = scaled_dot_product_attention(qq, k, vv, mask);
  expect_close(out.select(2, 0), v.select(2, 2), 1e-6, "row 0 = value 2");
  expect_close(out.select(2, 1), zeros({1, 1, 2}), 0, "row 1 sees no key");
  expect_close(out.select(2, 2), scaled_dot_product_attention(q, k, v).select(2, 2), 1e-6, "row 2 = unmasked");
  out.sum().backward();
  expect_close(qq.grad().select(2, 1), zeros({1, 1, 4}), 0, "no gradient through a hidden row");
  // The composition agrees, NaN-free, value and gradient.
  Tensor q2 = q.clone().requires_grad_();
  Tensor out2 = scaled_dot_product_attention_math(q2, k, v, mask);
  expect_close(out2, out, 1e-6, "math path");
  out2.sum().backward();
  expect_close(q2.grad(), qq.grad(), 1e-6, "math path dq");
  // A float mask of -inf everywhere is the same as nothing visible.
  expect_close(scaled_dot_product_attention(q, k, v, full({3, 5}, -INFINITY)), zeros({1, 1, 3, 2}), 0, "-inf mask");
}

TEST(Attention, StridedInputsAndThreadsGiveTheSameResult) {
  // [B, L, H, E] seen as [B, H, L, E] through a transpose, as a projection's output is.
  Generator gen(3);
  Tensor q = randn({2, 90, 4, 16}, DType::f32, &gen).transpose(1, 2);
  Tensor k = randn({2, 130, 4, 16}, DType::f32, &gen).transpose(1, 2);
  Tensor v = randn({2, 130, 4, 16}, DType::f32, &gen).transpose(1, 2);
  ASSERT_FALSE(q.is_contiguous());
  Tensor a = scaled_dot_product_attention(q, k, v, {}, 0.0, true);
  Tensor b = scaled_dot_product_attention(q.contiguous(), k.contiguous(), v.contiguous(), {}, 0.0, true);
  expect_close(a, b, 0, "strided vs contiguous");
  for (int run = 0; run < 3; ++run)  // the same bits each time, whatever thread took which block
    EXPECT_EQ(scaled_dot_product_attention(q, k, v, {}, 0.0, true).to_vector<float>(), b.to_vector<float>());
}

TEST(Attention, DropoutScaleDtypesAndEmpty) {
  Generator gen(5);
  Tensor q = randn({2, 3, 4}), k = randn({2, 6, 4}), v = randn({2, 6, 4});
  Generator g1(9), g2(9);
  Tensor d1 = scaled_dot_product_attention(q, k, v, {}, 0.5, false, {}, false, &g1);
  Tensor d2 = scaled_dot_product_attention(q, k, v, {}, 0.5, false, {}, false, &g2);
  EXPECT_EQ(d1.to_vector<float>(), d2.to_vector<float>());  // seeded: reproducible
  EXPECT_NE(d1.to_vector<float>(), scaled_dot_product_attention(q, k, v).to_vector<float>());
  // scale: 1/sqrt(E) by default.
  expect_close(scaled_dot_product_attention(q, k, v, {}, 0.0, false, 0.5), scaled_dot_product_attention(q, k, v), 1e-6,
               "default scale for E = 4");
  // bf16 computes in f32 and returns bf16.
  Tensor b = scaled_dot_product_attention(q.to(DType::bf16), k.to(DType::bf16), v.to(DType::bf16));
  EXPECT_EQ(b.dtype(), DType::bf16);
  expect_close(b, scaled_dot_product_attention(q, k, v), 0.03, "bf16");
  // Empty sequences: no keys gives zeros, no queries an empty result.
  expect_close(scaled_dot_product_attention(q, zeros({2, 0, 4}), zeros({2, 0, 5})), zeros({2, 3, 5}), 0, "no keys");
  EXPECT_EQ(scaled_dot_product_attention(zeros({2, 0, 4}), k, v).sizes(), (Shape{2, 0, 4}));
}

TEST(Attention, BadInputIsRefusedClearly) {
  Tensor q = randn({2, 4, 3, 8}), k = randn({2, 2, 5, 8}), v = randn({2, 2, 5, 8});
  std::string e = error_of([&] { scaled_dot_product_attention(q, k, v); });
  EXPECT_NE(e.find("pass enable_gqa=true"), std::string::npos) << e;
  e = error_of([&] { scaled_dot_product_attention(q, randn({2, 4, 5, 7}), randn({2, 4, 5, 8})); });
  EXPECT_NE(e.find("key [2, 4, 5, 7] must be [..., S, 8]"), std::string::npos) << e;
  e = error_of([&] { scaled_dot_product_attention(q, k, v, ones({4, 5}), 0.0, false, {}, true); });
  EXPECT_NE(e.find("attn_mask [4, 5] does not broadcast to the scores [2, 4, 3, 5]"), std::string::npos) << e;
  e = error_of([&] { scaled_dot_product_attention(q, k.to(DType::f64), v, {}, 0.0, false, {}, true); });
  EXPECT_NE(e.find("share a floating dtype"), std::string::npos) << e;
  e = error_of([&] { scaled_dot_product_attention(q, k, v, {}, 1.0, false, {}, true); });
  EXPECT_NE(e.find("dropout_p must be in [0, 1)"), std::string::npos) << e;
  e = error_of([&] { scaled_dot_product_attention(q, k, v, ones({3, 5}, DType::i64), 0.0, false, {}, true); });
  EXPECT_NE(e.find("attn_mask must be bool or floating"), std::string::npos) << e;
}

TEST(Attention, SecondDerivativesComeFromTheComposition) {
  Generator gen(6);
  Tensor q = randn({1, 2, 5, 4}, DType::f64, &gen).requires_grad_(), k = randn({1, 2, 6, 4}, DType::f64, &gen);
  Tensor v = randn({1, 2, 6, 3}, DType::f64, &gen).requires_grad_();
  std::vector<std::vector<Tensor>> res;
  for (bool fused : {true, false}) {
    Tensor out = fused ? scaled_dot_product_attention(q, k, v, {}, 0.0, true)
                       : scaled_dot_product_attention_math(q, k, v, {}, 0.0, true);
    Tensor gq = autograd::grad({pow(out, 2.0).sum()}, {q}, {}, std::nullopt, true)[0];
    res.push_back(autograd::grad({(gq * gq).sum()}, {q, v}));
  }
  expect_close(res[0][0], res[1][0], 1e-10, "d2/dq2");
  expect_close(res[0][1], res[1][1], 1e-10, "d2/dqdv");
}

}  // namespace
