// nn::MultiheadAttention beyond the peer cases: its parameter names, the
// module interface (one-tensor self-attention, Tensors in and out), a query
// that sees no key, bad input.
#include <gtest/gtest.h>

#include "nabla/nabla.h"
#include "support/error_of.h"

using namespace nabla;
using nabla::testing::error_of;

namespace {

std::vector<std::string> keys(const nn::Module& m) {
  std::vector<std::string> k;
  for (auto& [name, t] : m.named_parameters()) k.push_back(name);
  return k;
}

TEST(MultiheadAttention, PyTorchsParameterNames) {
  EXPECT_EQ(keys(nn::MultiheadAttention(8, 2)),
            (std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}));
  EXPECT_EQ(keys(nn::MultiheadAttention(nn::MultiheadAttentionOptions(8, 2).kdim(3).bias(false).add_bias_kv(true))),
            (std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight", "bias_k", "bias_v",
                                      "out_proj.weight"}));
}

TEST(MultiheadAttention, OneTensorAndSeveralTensorCalls) {
  manual_seed(1);
  nn::MultiheadAttention mha(nn::MultiheadAttentionOptions(8, 2).batch_first(true));
  Tensor x = randn({2, 5, 8});
  Tensor self = mha(x);  // self-attention, as in a Sequential
  nn::AttentionOutput r = mha.forward(x, x, x);
  EXPECT_TRUE(allclose(self, r.output));
  EXPECT_EQ(r.weights.sizes(), (Shape{2, 5, 5}));
  EXPECT_TRUE(allclose(r.weights.sum({-1}), ones({2, 5}), 1e-5, 1e-6));
  nn::Tensors out = mha.call({x, x, x});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(allclose(out[1], r.weights));
  EXPECT_EQ(mha.forward(x, x, x, {}, true, {}, false).weights.sizes(), (Shape{2, 2, 5, 5}));
}

TEST(MultiheadAttention, AQueryThatSeesNoKeyGivesTheOutputBias) {
  manual_seed(2);
  nn::MultiheadAttention mha(4, 2);
  Tensor q = randn({3, 2, 4}), kv = randn({6, 2, 4});
  Tensor kpm = zeros({2, 6}, DType::boolean);
  {
    NoGradGuard ng;
    kpm.index_put_({1}, true);  // batch element 1 ignores every key
  }
  nn::AttentionOutput r = mha.forward(q, kv, kv, kpm);
  Tensor row = r.output.select(1, 1);  // [L, E]: what out_proj makes of zeros
  EXPECT_TRUE(allclose(row, mha.out_proj->bias.expand({3, 4})));
  EXPECT_EQ(r.weights.select(0, 1).abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(std::isnan(r.output.sum().item<double>()));
}

TEST(MultiheadAttention, BadInputIsRefusedClearly) {
  EXPECT_NE(error_of([] { nn::MultiheadAttention(6, 4); }).find("embed_dim 6 must be a positive multiple of num_heads 4"),
            std::string::npos);
  nn::MultiheadAttention mha(4, 2);
  Tensor x = randn({3, 2, 4});
  std::string e = error_of([&] { mha.forward(x, randn({3, 2, 5}), x); });
  EXPECT_NE(e.find("do not fit"), std::string::npos) << e;
  e = error_of([&] { mha.forward(x, x, x, zeros({2, 4}, DType::boolean)); });
  EXPECT_NE(e.find("key_padding_mask [2, 4] must be [2, 3]"), std::string::npos) << e;
  e = error_of([&] { mha.forward(x, x, x, {}, true, zeros({3, 4})); });
  EXPECT_NE(e.find("attn_mask [3, 4] must be [3, 3]"), std::string::npos) << e;
}

}  // namespace
