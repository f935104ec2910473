// The attention variants behind nn::MultiheadAttention and the transformer
// layers: each variant's output against its op on the layer's own
// projections, the masks each accepts, the weights of those that form them,
// retention's gate and group norm, spec parsing, bad input.
#include <gtest/gtest.h>

#include "nabla/nabla.h"
#include "support/error_of.h"

using namespace nabla;
using nabla::testing::error_of;

namespace {

using Kind = nn::AttentionVariant::Kind;

nn::MultiheadAttention layer(const std::string& spec, int64_t E = 8, int64_t H = 2) {
  return nn::MultiheadAttention(nn::MultiheadAttentionOptions(E, H).batch_first(true).attention(
      nn::AttentionVariant::parse(spec)));
}

// The layer's heads for x [N, L, E]: q, k, v [N, H, L, E / H].
std::array<Tensor, 3> heads_of(const nn::MultiheadAttention& m, const Tensor& x) {
  const int64_t E = m.options.embed_dim(), H = m.options.num_heads(), N = x.size(0), L = x.size(1);
  std::array<Tensor, 3> r;
  for (int64_t i = 0; i < 3; ++i)
    r[static_cast<size_t>(i)] = linear(x, m.in_proj_weight.narrow(0, i * E, E), m.in_proj_bias.narrow(0, i * E, E))
                                    .reshape({N, L, H, E / H})
                                    .transpose(1, 2);
  return r;
}

Tensor merge(const nn::MultiheadAttention& m, const Tensor& ctx) {
  const int64_t N = ctx.size(0), L = ctx.size(2);
  return (*m.out_proj)(ctx.transpose(1, 2).reshape({N, L, m.options.embed_dim()}));
}

TEST(AttentionVariant, ParsesAndPrintsSpecs) {
  EXPECT_EQ(nn::AttentionVariant::parse("softmax").kind, Kind::softmax);
  EXPECT_EQ(nn::AttentionVariant::parse("retention").kind, Kind::retention);
  auto w = nn::AttentionVariant::parse("window:64");
  EXPECT_EQ(w.kind, Kind::window);
  EXPECT_EQ(w.size, 64);
  EXPECT_EQ(w.str(), "window:64");
  EXPECT_EQ(nn::AttentionVariant::parse("neighborhood:3").str(), "neighborhood:3");
  EXPECT_TRUE(nn::AttentionVariant::parse("linear").recurrent());
  EXPECT_FALSE(nn::AttentionVariant::parse("relu").recurrent());
  for (const char* bad : {"flash", "window", "window:", "window:0", "window:x", "window:3x", "neighborhood:4",
                          "linear:3", ""})
    EXPECT_THROW(nn::AttentionVariant::parse(bad), Error) << bad;
  EXPECT_NE(error_of([] { nn::AttentionVariant::parse("flash"); }).find("expected softmax, linear"), std::string::npos);
}

TEST(MultiheadAttentionVariants, EachRunsItsOpOnTheLayersProjections) {
  manual_seed(2);
  Tensor x = randn({2, 9, 8});
  NoGradGuard ng;
  {
    auto m = layer("linear");
    auto [q, k, v] = heads_of(m, x);
    EXPECT_TRUE(allclose(m(x), merge(m, linear_attention(q, k, v)), 1e-5, 1e-6));
    Tensor causal = m.forward(x, x, x, Tensor(), false, Tensor(), true, true).output;
    EXPECT_TRUE(allclose(causal, merge(m, linear_attention(q, k, v, Tensor(), true)), 1e-5, 1e-6));
  }
  {
    auto m = layer("relu");
    auto [q, k, v] = heads_of(m, x);
    nn::AttentionOutput r = m.forward(x, x, x, Tensor(), true, Tensor(), false);
    EXPECT_TRUE(allclose(r.output, merge(m, relu_attention(q, k, v)), 1e-5, 1e-6));
    EXPECT_TRUE(allclose(r.weights, relu_attention_weights(q, k), 1e-5, 1e-6));
  }
  {
    auto m = layer("window:3");
    auto [q, k, v] = heads_of(m, x);
    nn::AttentionOutput r = m.forward(x, x, x, Tensor(), true, Tensor(), false, true);
    EXPECT_TRUE(allclose(r.output, merge(m, scaled_dot_product_attention(q, k, v, sliding_window_mask(9, 9, 2, 0))),
                         1e-5, 1e-6));
    // Query 5 sees keys 3, 4, 5 only.
    Tensor row = r.weights.select(0, 0).select(0, 0).select(0, 5);
    EXPECT_EQ(gt(row, full({}, 0.0)).to(DType::f32).to_vector<float>(),
              std::vector<float>({0, 0, 0, 1, 1, 1, 0, 0, 0}));
  }
  {
    auto m = layer("neighborhood:3");
    Tensor t = randn({2, 1 + 16, 8});  // a class token and a 4x4 grid
    auto [q, k, v] = heads_of(m, t);
    EXPECT_TRUE(allclose(m(t), merge(m, scaled_dot_product_attention(q, k, v, neighborhood_mask(4, 4, 3, 1))), 1e-5,
                         1e-6));
    EXPECT_THROW(m(randn({2, 1 + 15, 8})), Error);  // not a square grid
  }
  {
    auto m = layer("retention");
    auto [q, k, v] = heads_of(m, x);
    Tensor out = m.forward(x, x, x, Tensor(), false, Tensor(), true, true).output;
    Tensor ctx = retention(q, k, v, retention_log_decays(2)).transpose(1, 2).reshape({2, 9, 8});
    Tensor gated = mul(silu((*m.gate_proj)(x)), (*m.group_norm)(ctx.reshape({18, 8})).reshape({2, 9, 8}));
    EXPECT_TRUE(allclose(out, (*m.out_proj)(gated), 1e-5, 1e-6));
  }
}

TEST(MultiheadAttentionVariants, MasksEachVariantTakes) {
  manual_seed(3);
  Tensor x = randn({2, 6, 8});
  Tensor pad = from_vector({0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1}, {2, 6}, DType::f32).to(DType::boolean);
  NoGradGuard ng;
  // Linear attention: a padded key changes nothing.
  auto m = layer("linear");
  Tensor a = m.forward(x, x, x, pad, false).output;
  Tensor x2 = x.clone();
  x2.narrow(1, 4, 2).select(0, 0).fill_(5.0);  // batch 0's padded keys
  Tensor b = m.forward(x, x2, x2, pad, false).output;
  EXPECT_TRUE(allclose(a.select(0, 0), b.select(0, 0), 1e-5, 1e-6));
  EXPECT_NE(error_of([&] { m.forward(x, x, x, Tensor(), false, zeros({6, 6})); }).find("no attn_mask"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m.forward(x, x, x, zeros({2, 6}), false); }).find("must be bool"), std::string::npos);
  EXPECT_NE(error_of([&] { m.forward(x, x, x); }).find("forms no weight matrix"), std::string::npos);
  // ReLU attention with a padding mask: the padded keys get weight 0.
  auto r = layer("relu");
  Tensor w = r.forward(x, x, x, pad, true).weights;
  EXPECT_EQ(sum(w.select(0, 0).narrow(1, 4, 2)).item<float>(), 0.0f);
  // Retention: causal self-attention only.
  auto ret = layer("retention");
  EXPECT_NE(error_of([&] { ret(x); }).find("retention is causal"), std::string::npos);
  EXPECT_NE(error_of([&] { ret.forward(x, x, x, pad, false, Tensor(), true, true); }).find("no key padding mask"),
            std::string::npos);
  EXPECT_THROW(nn::MultiheadAttention(nn::MultiheadAttentionOptions(8, 2).add_bias_kv(true).attention(
                   nn::AttentionVariant::parse("linear"))),
               Error);
}

TEST(MultiheadAttentionVariants, RetentionAddsItsGateAndGroupNormAfterPyTorchsNames) {
  auto m = layer("retention");
  std::vector<std::string> names;
  for (auto& [n, p] : m.named_parameters()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias",
                                             "gate_proj.weight", "group_norm.weight", "group_norm.bias"}));
}

TEST(MultiheadAttentionVariants, EncoderLayersTakeAVariantAndGradientsFlow) {
  manual_seed(4);
  for (const char* spec : {"linear", "relu", "window:3", "retention"}) {
    SCOPED_TRACE(spec);
    nn::TransformerEncoderLayer enc(nn::TransformerLayerOptions(8, 2).dim_feedforward(16).dropout(0.0).batch_first(true)
                                        .attention(nn::AttentionVariant::parse(spec)));
    EXPECT_EQ(enc.self_attn->options.attention().str(), spec);
    Tensor x = randn({2, 5, 8}).requires_grad_();
    Tensor y = enc.forward(x, Tensor(), Tensor(), true);
    y.sum().backward();
    for (auto& [n, p] : enc.named_parameters()) {
      ASSERT_TRUE(p.grad().defined()) << n;
      EXPECT_GT(max(abs(p.grad())).item(), 0.0) << n;
    }
  }
  nn::TransformerDecoderLayer dec(nn::TransformerLayerOptions(8, 2).attention(nn::AttentionVariant::parse("linear")));
  EXPECT_EQ(dec.self_attn->options.attention().kind, Kind::linear);
  EXPECT_EQ(dec.multihead_attn->options.attention().kind, Kind::softmax);
}

}  // namespace
