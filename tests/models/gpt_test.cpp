// The zoo's gpt: names, tying, the key/value cache against full recomputation
// (every step, and across the context's end), and that it learns.
#include <gtest/gtest.h>

#include "nabla/nabla.h"

namespace {

using namespace nabla;

models::GPTOptions small(const std::string& positions = "learned", const std::string& activation = "gelu") {
  models::GPTOptions o;
  o.vocab = 17;
  o.layers = 2;
  o.width = 16;
  o.heads = 4;
  o.context = 12;
  o.positions = positions;
  o.activation = activation;
  return o;
}

double max_diff(const Tensor& a, const Tensor& b) { return max(abs(sub(a, b))).item(); }

TEST(GPT, ParametersUnderThePeerKitsNamesWithTheReadOutTied) {
  models::GPT m(small());
  std::vector<std::string> names;
  for (const auto& [n, p] : m.named_parameters()) names.push_back(n);
  const std::vector<std::string> first{"tok.weight", "pos.weight", "blocks.0.ln1.weight", "blocks.0.ln1.bias",
                                       "blocks.0.qkv.weight", "blocks.0.qkv.bias", "blocks.0.proj.weight",
                                       "blocks.0.proj.bias", "blocks.0.ln2.weight", "blocks.0.ln2.bias",
                                       "blocks.0.mlp.0.weight", "blocks.0.mlp.0.bias", "blocks.0.mlp.2.weight",
                                       "blocks.0.mlp.2.bias"};
  ASSERT_GE(names.size(), first.size());
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + first.size()), first);
  EXPECT_EQ(names.back(), "ln.bias");  // head.weight is tok.weight, listed once; a tied head has no bias
  EXPECT_EQ(m.head->weight.storage().get(), m.tok->weight.storage().get());
  // 17*16 + 12*16 + 2 * (2*32 + 16*48+48 + 16*16+16 + 16*64+64 + 64*16+16) + 32
  EXPECT_EQ(m.num_parameters(), 17 * 16 + 12 * 16 + 2 * (64 + 816 + 272 + 1088 + 1040) + 32);
  models::GPTOptions u = small("rotary", "swiglu");
  u.tie_embeddings = false;
  models::GPT r(u);
  EXPECT_THROW(r.get_parameter("pos.weight"), Error);
  EXPECT_NO_THROW(r.get_parameter("blocks.1.mlp.w3.weight"));
  EXPECT_NO_THROW(r.get_parameter("head.bias"));
}

// Each token through the cache gives the logits of the whole window recomputed.
void check_cache(const models::GPTOptions& o, int64_t steps, int64_t prompt) {
  manual_seed(1);
  models::GPT m(o);
  m.eval();
  NoGradGuard ng;
  Generator gen(2);
  Tensor ids = randint(0, o.vocab, {2, prompt + steps}, DType::i64, &gen);
  models::RecurrentState state;
  Tensor logits = m.forward_state(ids.narrow(1, 0, prompt).contiguous(), state);
  EXPECT_LT(max_diff(logits, m.forward(ids.narrow(1, 0, prompt).contiguous())), 1e-4);
  for (int64_t t = prompt; t < prompt + steps; ++t) {
    logits = m.forward_state(ids.narrow(1, t, 1).contiguous(), state);
    // state[0] holds the tokens the cache stands for, this one last.
    const Tensor window = state[0];
    ASSERT_LE(window.size(1), o.context);
    EXPECT_EQ(window.narrow(1, window.size(1) - 1, 1).contiguous().to_vector<int64_t>(),
              ids.narrow(1, t, 1).contiguous().to_vector<int64_t>());
    Tensor full = m.forward(window).narrow(1, window.size(1) - 1, 1);
    ASSERT_LT(max_diff(logits, full), 1e-4) << "step " << t << ", window " << window.size(1);
  }
}

TEST(GPT, CachedStepsEqualRecomputationWithLearnedPositions) { check_cache(small(), 30, 5); }

TEST(GPT, CachedStepsEqualRecomputationWithRotaryPositionsAndSwiGLU) {
  check_cache(small("rotary", "swiglu"), 30, 3);
}

TEST(GPT, AWindowAfterACacheSeesItsKeysCausallyFromTheBottomRight) {
  manual_seed(3);
  models::GPT m(small("rotary"));
  m.eval();
  NoGradGuard ng;
  Generator gen(4);
  Tensor ids = randint(0, 17, {3, 10}, DType::i64, &gen);
  models::RecurrentState state;
  Tensor a = m.forward_state(ids.narrow(1, 0, 4).contiguous(), state);
  Tensor b = m.forward_state(ids.narrow(1, 4, 6).contiguous(), state);
  Tensor full = m.forward(ids);
  EXPECT_LT(max_diff(cat({a, b}, 1), full), 1e-4);
  EXPECT_EQ(state[0].sizes(), (Shape{3, 10}));
  EXPECT_EQ(state[1].sizes(), (Shape{3, 4, 10, 4}));  // layer 0's keys [B, heads, S, head_dim]
}

TEST(GPT, AFullContextWindowStartsAfresh) {
  manual_seed(5);
  models::GPT m(small());
  m.eval();
  NoGradGuard ng;
  Generator gen(6);
  Tensor ids = randint(0, 17, {2, 24}, DType::i64, &gen);
  models::RecurrentState state;
  m.forward_state(ids.narrow(1, 0, 12).contiguous(), state);
  Tensor second = m.forward_state(ids.narrow(1, 12, 12).contiguous(), state);
  EXPECT_LT(max_diff(second, m.forward(ids.narrow(1, 12, 12).contiguous())), 1e-5);
}

TEST(GPT, BadInputIsRefusedClearly) {
  models::GPT m(small());
  EXPECT_THROW(m.forward(zeros({2, 13}, DType::i64)), Error);  // passes the context
  EXPECT_THROW(m.forward(zeros({2, 3}, DType::f32)), Error);
  models::GPTOptions bad = small();
  bad.heads = 3;  // 16 is not divisible by 3
  EXPECT_THROW(models::GPT{bad}, Error);
  bad = small();
  bad.activation = "relu";
  EXPECT_THROW(models::GPT{bad}, Error);
  models::RecurrentState wrong{zeros({2, 1}, DType::i64)};
  EXPECT_THROW(m.forward_state(zeros({2, 1}, DType::i64), wrong), Error);
}

TEST(GPT, LearnsARepeatingSequence) {
  // A period-7 sequence is predictable from the two tokens before: the loss
  // falls from ln(17) ~ 2.83 to near 0 within a couple of hundred steps.
  manual_seed(7);
  models::GPTOptions o = small();
  models::GPT m(o);
  optim::AdamW opt(m.parameters(), 3e-3, 0.9, 0.999, 1e-8, 0.0);
  std::vector<int64_t> seq;
  const int64_t pattern[7] = {3, 1, 4, 1, 5, 9, 2};
  for (int64_t i = 0; i < 13 * 4 + 1; ++i) seq.push_back(pattern[i % 7]);
  Tensor all = from_vector<int64_t>(seq);
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    std::vector<Tensor> xs, ys;
    for (int b = 0; b < 4; ++b) {
      xs.push_back(all.narrow(0, b * 13, 12));
      ys.push_back(all.narrow(0, b * 13 + 1, 12));
    }
    Tensor x = stack(xs), y = stack(ys).reshape({-1});
    opt.zero_grad();
    Tensor loss = cross_entropy(m.forward(x).reshape({-1, o.vocab}), y);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item();
  }
  EXPECT_GT(first, 2.0);
  EXPECT_LT(last, 0.1);
}

TEST(GPT, TheZooBuildsItFromTransformerSizes) {
  models::ModelConfig c;
  c.num_classes = 20;
  c.transformer.layers = 1;
  c.transformer.width = 8;
  c.transformer.heads = 2;
  c.transformer.context = 16;
  c.transformer.positions = "rotary";
  c.transformer.untied = true;
  auto m = models::create("gpt", c);
  auto& g = dynamic_cast<models::GPT&>(*m);
  EXPECT_EQ(g.options().layers, 1);
  EXPECT_EQ(g.options().context, 16);
  EXPECT_FALSE(g.options().tie_embeddings);
  EXPECT_EQ(m->forward(zeros({1, 5}, DType::i64)).sizes(), (Shape{1, 5, 20}));
  // The sizes travel with checkpoints.
  EXPECT_EQ(models::ModelConfig::from_json(c.to_json()).transformer, c.transformer);
  c.transformer.attention = "bogus";
  EXPECT_THROW(models::create("gpt", c), Error);
  c.transformer.attention = "neighborhood:3";  // for patch grids
  EXPECT_THROW(models::create("gpt", c), Error);
  c.transformer.attention = "window:4";
  EXPECT_EQ(dynamic_cast<models::GPT&>(*models::create("gpt", c)).options().attention.size, 4);
}

models::GPTOptions with_attention(const std::string& spec, const std::string& positions = "learned") {
  models::GPTOptions o = small(positions);
  o.attention = nn::AttentionVariant::parse(spec);
  o.attention.chunk = 4;  // several chunks in a window of 12
  return o;
}

const char* const kVariants[] = {"linear", "retention", "relu", "window:5"};

TEST(GPT, EveryVariantsCachedStepsEqualRecomputation) {
  for (const char* spec : kVariants) {
    SCOPED_TRACE(spec);
    check_cache(with_attention(spec), 30, 5);
    check_cache(with_attention(spec, "rotary"), 20, 3);
  }
}

TEST(GPT, EveryVariantsWindowsAfterAStateEqualTheWhole) {
  for (const char* spec : kVariants) {
    SCOPED_TRACE(spec);
    manual_seed(11);
    models::GPT m(with_attention(spec, "rotary"));
    m.eval();
    NoGradGuard ng;
    Generator gen(12);
    Tensor ids = randint(0, 17, {3, 12}, DType::i64, &gen);
    models::RecurrentState state;
    std::vector<Tensor> parts;
    int64_t at = 0;
    for (int64_t n : {5, 3, 1, 3}) {
      parts.push_back(m.forward_state(ids.narrow(1, at, n).contiguous(), state));
      at += n;
    }
    EXPECT_LT(max_diff(cat(parts, 1), m.forward(ids)), 1e-4);
  }
}

TEST(GPT, TheRecurrentVariantsStateHasAFixedSize) {
  NoGradGuard ng;
  for (const char* spec : {"linear", "retention", "window:5"}) {
    SCOPED_TRACE(spec);
    models::GPT m(with_attention(spec));
    m.eval();
    models::RecurrentState state;
    m.forward_state(zeros({2, 7}, DType::i64), state);
    const Shape k0 = state[1].sizes();
    for (int i = 0; i < 4; ++i) m.forward_state(zeros({2, 1}, DType::i64), state);
    EXPECT_EQ(state[1].sizes(), k0);
    if (std::string(spec) == "linear") {
      EXPECT_EQ(k0, (Shape{2, 4, 4, 4}));                 // kv [B, heads, head_dim, head_dim]
      EXPECT_EQ(state[2].sizes(), (Shape{2, 4, 4}));      // z [B, heads, head_dim]
    } else if (std::string(spec) == "retention") {
      EXPECT_EQ(k0, (Shape{2, 4, 4, 4}));
      EXPECT_FALSE(state[2].defined());
    } else {
      EXPECT_EQ(k0, (Shape{2, 4, 4, 4}));  // the last window - 1 = 4 keys
    }
  }
  // Retention brings RetNet's gate and per-head group norm.
  models::GPT r(with_attention("retention"));
  EXPECT_NO_THROW(r.get_parameter("blocks.0.gate.weight"));
  EXPECT_NO_THROW(r.get_parameter("blocks.1.gn.weight"));
}

TEST(GPT, EveryVariantLearnsARepeatingSequence) {
  const int64_t pattern[7] = {3, 1, 4, 1, 5, 9, 2};
  std::vector<int64_t> seq;
  for (int64_t i = 0; i < 13 * 4 + 1; ++i) seq.push_back(pattern[i % 7]);
  Tensor all = from_vector<int64_t>(seq);
  std::vector<Tensor> xs, ys;
  for (int b = 0; b < 4; ++b) xs.push_back(all.narrow(0, b * 13, 12)), ys.push_back(all.narrow(0, b * 13 + 1, 12));
  Tensor x = stack(xs), y = stack(ys).reshape({-1});
  for (const char* spec : kVariants) {
    SCOPED_TRACE(spec);
    manual_seed(7);
    models::GPTOptions o = with_attention(spec);
    models::GPT m(o);
    optim::AdamW opt(m.parameters(), 3e-3, 0.9, 0.999, 1e-8, 0.0);
    double last = 0;
    for (int step = 0; step < 200; ++step) {
      opt.zero_grad();
      Tensor loss = cross_entropy(m.forward(x).reshape({-1, o.vocab}), y);
      loss.backward();
      opt.step();
      last = loss.item();
    }
    EXPECT_LT(last, 0.2);
  }
}

}  // namespace
