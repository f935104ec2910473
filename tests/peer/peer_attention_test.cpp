// nn::MultiheadAttention and the transformer layers against PyTorch 1.13's (make_attention_fixtures.py):
// PyTorch's state_dict loads under its own names, and outputs, attention
// weights and the gradients of inputs and parameters agree, in f64.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <map>

#include "nabla/nabla.h"
#include "support/peer_compare.h"

using namespace nabla;

namespace {

using Ins = std::vector<Tensor>;
struct Case {
  std::function<std::shared_ptr<nn::Module>()> make;
  std::function<std::vector<Tensor>(nn::Module&, const Ins&)> run;
};

template <class M> M& as(nn::Module& m) { return static_cast<M&>(m); }
std::vector<Tensor> both(const nn::AttentionOutput& r) { return {r.output, r.weights}; }

template <class M, class O> std::function<std::shared_ptr<nn::Module>()> make(O o) {
  return [o] { return std::make_shared<M>(o); };
}

nn::TransformerLayerOptions layer(int64_t d, int64_t h, int64_t ff) {
  return nn::TransformerLayerOptions(d, h).dim_feedforward(ff).dropout(0.0);
}

models::GPTOptions gpt_options(int64_t vocab, int64_t width, int64_t heads, int64_t layers, int64_t ctx, int64_t mlp) {
  models::GPTOptions o;
  o.vocab = vocab;
  o.width = width;
  o.heads = heads;
  o.layers = layers;
  o.context = ctx;
  o.mlp_width = mlp;
  o.tie_embeddings = false;
  return o;
}

// nn::MultiheadAttention(8, 2) with a variant, batch first, on x [and a key padding mask].
Case variant(const std::string& spec, bool causal, bool padded) {
  return {[spec] {
            return std::make_shared<nn::MultiheadAttention>(
                nn::MultiheadAttentionOptions(8, 2).batch_first(true).attention(nn::AttentionVariant::parse(spec)));
          },
          [causal, padded](nn::Module& m, const Ins& i) {
            return Ins{as<nn::MultiheadAttention>(m).forward(i[0], i[0], i[0], padded ? i[1] : Tensor(), false,
                                                             Tensor(), true, causal).output};
          }};
}

const std::map<std::string, Case>& cases() {
  using MHA = nn::MultiheadAttention;
  using MO = nn::MultiheadAttentionOptions;
  static const std::map<std::string, Case> c = {
      {"mha_self", {make<MHA>(MO(8, 2)), [](nn::Module& m, const Ins& i) { return both(as<MHA>(m).forward(i[0], i[1], i[2])); }}},
      {"mha_cross_kdim",
       {make<MHA>(MO(8, 4).kdim(6).vdim(4).batch_first(true)),
        [](nn::Module& m, const Ins& i) { return both(as<MHA>(m).forward(i[0], i[1], i[2], i[3], true, i[4], false)); }}},
      {"mha_causal_no_bias",
       {make<MHA>(MO(6, 3).bias(false)),
        [](nn::Module& m, const Ins& i) { return Ins{as<MHA>(m).forward(i[0], i[0], i[0], {}, false, i[1]).output}; }}},
      {"mha_bias_kv_zero_attn",
       {make<MHA>(MO(4, 2).add_bias_kv(true).add_zero_attn(true)),
        [](nn::Module& m, const Ins& i) { return both(as<MHA>(m).forward(i[0], i[1], i[1], i[2])); }}},
      {"mha_unbatched_heads_mask",
       {make<MHA>(MO(8, 2)), [](nn::Module& m, const Ins& i) { return both(as<MHA>(m).forward(i[0], i[0], i[0], {}, true, i[1])); }}},
      {"enc_post_norm", {make<nn::TransformerEncoderLayer>(layer(8, 2, 16)),
                         [](nn::Module& m, const Ins& i) { return m.call({i[0], i[1], i[2]}); }}},
      {"enc_pre_norm_gelu",
       {make<nn::TransformerEncoderLayer>(
            layer(8, 4, 12).activation(nn::TransformerActivation::gelu).batch_first(true).norm_first(true)),
        [](nn::Module& m, const Ins& i) { return m.call({i[0], i[1]}); }}},
      {"dec_post_norm", {make<nn::TransformerDecoderLayer>(layer(8, 2, 16)),
                         [](nn::Module& m, const Ins& i) { return m.call({i[0], i[1], i[2], {}, {}, i[3]}); }}},
      {"dec_pre_norm_gelu",
       {make<nn::TransformerDecoderLayer>(
            layer(8, 2, 16).activation(nn::TransformerActivation::gelu).batch_first(true).norm_first(true)),
        [](nn::Module& m, const Ins& i) { return m.call({i[0], i[1], {}, i[2]}); }}},
      {"encoder_stack", {[] { return std::make_shared<nn::TransformerEncoder>(layer(8, 2, 16), 2, true); },
                         [](nn::Module& m, const Ins& i) { return m.call({i[0], {}, i[1]}); }}},
      {"transformer", {[] { return std::make_shared<nn::Transformer>(layer(8, 2, 16), 2, 2); },
                       [](nn::Module& m, const Ins& i) { return m.call({i[0], i[1], {}, i[2]}); }}},
      // The zoo's gpt against the peer kit's GPT (make_attention_fixtures.py), untied as it is.
      {"gpt_learned_gelu", {[] { return std::make_shared<models::GPT>(gpt_options(11, 8, 2, 2, 7, 16)); },
                            [](nn::Module& m, const Ins& i) { return Ins{m(i[0])}; }}},
      {"gpt_rotary_swiglu", {[] {
                               models::GPTOptions o = gpt_options(13, 12, 3, 2, 9, 20);
                               o.activation = "swiglu";
                               o.positions = "rotary";
                               return std::make_shared<models::GPT>(o);
                             },
                             [](nn::Module& m, const Ins& i) { return Ins{m(i[0])}; }}},
      // torchvision 0.14's VisionTransformer under its own names, on 3-channel images.
      {"vit_torchvision", {[] {
                             models::ViTOptions o;
                             o.image_size = 8;
                             o.channels = 3;
                             o.patch_size = 4;
                             o.layers = 2;
                             o.heads = 2;
                             o.hidden_dim = 8;
                             o.mlp_dim = 16;
                             o.num_classes = 5;
                             return std::make_shared<models::VisionTransformer>(o);
                           },
                           [](nn::Module& m, const Ins& i) { return Ins{m(i[0])}; }}},
      // The variants against the papers' formulas in PyTorch (VariantAttention in the fixture script).
      {"mha_linear_causal", variant("linear", true, false)},
      {"mha_linear_padded", variant("linear", false, true)},
      {"mha_relu_causal", variant("relu", true, false)},
      {"mha_relu_padded", variant("relu", false, true)},
      {"mha_retention", variant("retention", true, false)},
      {"mha_window_causal", variant("window:3", true, false)},
      {"mha_window_centred", variant("window:4", false, true)},
      {"mha_neighborhood", variant("neighborhood:3", false, false)},
  };
  return c;
}

std::vector<std::string> names() { return nabla::testing::case_names(cases()); }

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  nabla::testing::expect_close_f64(got, want, what);
}

class PeerAttention : public ::testing::TestWithParam<std::string> {};

TEST_P(PeerAttention, MatchesPyTorch) {
  const char* dir = std::getenv("NABLA_PEER_DIR");
  ASSERT_NE(dir, nullptr) << "NABLA_PEER_DIR is not set (run through ctest)";
  const std::string name = GetParam();
  io::TensorMap fx = io::load_safetensors(std::string(dir) + "/attention/" + name + ".safetensors");
  const Case& c = cases().at(name);
  std::shared_ptr<nn::Module> mp = c.make();
  nn::Module& m = *mp;
  m.to(DType::f64);
  io::TensorMap sd;
  std::vector<Tensor> ins, gouts;
  for (const auto& [k, t] : fx)
    if (k.rfind("sd.", 0) == 0) sd[k.substr(3)] = t;
  m.load_state_dict(sd, true);  // PyTorch's names, strictly
  for (int i = 0; fx.count("in." + std::to_string(i)); ++i) {
    Tensor t = fx.at("in." + std::to_string(i));
    ins.push_back(is_floating(t.dtype()) ? t.clone().requires_grad_() : t);
  }
  std::vector<Tensor> outs = c.run(m, ins);
  Tensor loss = zeros({}, DType::f64);
  for (size_t i = 0; i < outs.size(); ++i) {
    if (!fx.count("out." + std::to_string(i))) continue;
    expect_close(outs[i], fx.at("out." + std::to_string(i)), name + " output " + std::to_string(i));
    loss = loss + (outs[i] * fx.at("gout." + std::to_string(i))).sum();
  }
  loss.backward();
  for (size_t i = 0; i < ins.size(); ++i)
    if (fx.count("gin." + std::to_string(i)))
      expect_close(ins[i].grad(), fx.at("gin." + std::to_string(i)), name + " input gradient " + std::to_string(i));
  for (auto& [k, p] : m.named_parameters())
    expect_close(p.grad(), fx.at("gp." + k), name + " gradient of " + k);
}

INSTANTIATE_TEST_SUITE_P(Peer, PeerAttention, ::testing::ValuesIn(names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
