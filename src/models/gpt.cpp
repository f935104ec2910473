#include "nabla/models/gpt.h"

#include <cmath>

#include "nabla/autograd/grad_mode.h"
#include "nabla/nn/activation.h"
#include "nabla/nn/init.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/attention.h"
#include "nabla/ops/attention_variants.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/norm.h"
#include "nabla/ops/shape.h"
#include "nabla/tensor/factory.h"

namespace nabla::models {

namespace {

int64_t mlp_width_of(const GPTOptions& o) {
  if (o.mlp_width > 0) return o.mlp_width;
  if (o.activation == "swiglu") return (8 * o.width / 3 + 7) / 8 * 8;  // LLaMA's 2/3 of 4 x width, to a multiple of 8
  return 4 * o.width;
}

void check_options(const GPTOptions& o) {
  NABLA_CHECK(o.vocab > 0 && o.layers > 0 && o.width > 0 && o.heads > 0 && o.context > 0,
              "GPT: vocabulary, layers, width, heads and context must be positive, got {}, {}, {}, {}, {}", o.vocab,
              o.layers, o.width, o.heads, o.context);
  NABLA_CHECK(o.width % o.heads == 0, "GPT: width {} is not divisible by heads {}", o.width, o.heads);
  NABLA_CHECK(o.activation == "gelu" || o.activation == "swiglu", "GPT: activation must be gelu or swiglu, got '{}'",
              o.activation);
  NABLA_CHECK(o.positions == "learned" || o.positions == "rotary", "GPT: positions must be learned or rotary, got '{}'",
              o.positions);
  NABLA_CHECK(o.positions != "rotary" || (o.width / o.heads) % 2 == 0,
              "GPT: rotary positions need an even head dimension, got {}", o.width / o.heads);
  NABLA_CHECK(o.dropout >= 0 && o.dropout < 1, "GPT: dropout must be in [0, 1), got {}", o.dropout);
  NABLA_CHECK(o.attention.kind != nn::AttentionVariant::Kind::neighborhood,
              "GPT: neighborhood attention is for patch grids (vit); for text use window:W");
}

// Feed-forward: Linear, GELU, Linear, under the peer's Sequential names (mlp.0, mlp.2).
class GeluMLP : public nn::Sequential {
 public:
  GeluMLP(int64_t width, int64_t hidden) {
    push_back(std::make_shared<nn::Linear>(width, hidden));
    push_back(std::make_shared<nn::GELU>());
    push_back(std::make_shared<nn::Linear>(hidden, width));
  }
};

}  // namespace

GPTBlock::GPTBlock(const GPTOptions& o, std::shared_ptr<nn::RotaryEmbedding> rotary) : o_(o), rotary_(std::move(rotary)) {
  ln1 = register_module("ln1", std::make_shared<nn::LayerNorm>(Shape{o.width}));
  qkv = register_module("qkv", std::make_shared<nn::Linear>(o.width, 3 * o.width));
  proj = register_module("proj", std::make_shared<nn::Linear>(o.width, o.width));
  ln2 = register_module("ln2", std::make_shared<nn::LayerNorm>(Shape{o.width}));
  if (o.activation == "swiglu")
    mlp = register_module("mlp", std::make_shared<nn::SwiGLU>(o.width, mlp_width_of(o)));
  else
    mlp = register_module("mlp", std::make_shared<GeluMLP>(o.width, mlp_width_of(o)));
  if (o.attention.kind == nn::AttentionVariant::Kind::retention) {
    gate = register_module("gate", std::make_shared<nn::Linear>(o.width, o.width, false));
    gn = register_module("gn", std::make_shared<nn::GroupNorm>(o.heads, o.width));
    log_decays_ = retention_log_decays(o.heads);
  }
}

Tensor GPTBlock::forward(const Tensor& x) {
  Tensor k, v;
  return forward(x, 0, k, v);
}

Tensor GPTBlock::forward(const Tensor& x, int64_t offset, Tensor& k, Tensor& v) {
  const int64_t B = x.size(0), T = x.size(1), D = o_.width, H = o_.heads, hd = D / H;
  // [B, T, 3, H, hd] -> three [B, H, T, hd] views.
  Tensor hx = (*ln1)(x);
  Tensor qkv5 = (*qkv)(hx).view({B, T, 3, H, hd}).permute({2, 0, 3, 1, 4});
  Tensor q = qkv5.select(0, 0), kn = qkv5.select(0, 1), vn = qkv5.select(0, 2);
  if (rotary_) {
    q = rotary_->forward(q, offset);
    kn = rotary_->forward(kn, offset);
  }
  const double p = is_training() ? o_.dropout : 0.0;
  using Kind = nn::AttentionVariant::Kind;
  const nn::AttentionVariant& av = o_.attention;
  Tensor a;
  if (av.kind == Kind::linear) {
    LinearAttentionState st{k, v};
    a = linear_attention(q, kn, vn, Tensor(), true, &st, av.chunk);
    k = st.kv, v = st.z;
  } else if (av.kind == Kind::retention) {
    Tensor ld = log_decays_.dtype() == q.dtype() ? log_decays_ : log_decays_.to(q.dtype());
    a = retention(q, kn, vn, ld, RetentionForm::chunkwise, av.chunk, &k);
  } else {
    k = k.defined() ? cat({k, kn}, 2) : kn.contiguous();
    v = v.defined() ? cat({v, vn}, 2) : vn.contiguous();
    // Query i is at position offset + i, the last T of the keys' positions (causal aligned to the bottom right).
    a = nn::variant_attention(av, q, k, v, Tensor(), Tensor(), true, p);
    if (av.kind == Kind::window && k.size(2) > av.size - 1) {  // later queries see only the last window - 1 of these
      const int64_t keep = av.size - 1, S = k.size(2);
      k = k.narrow(2, S - keep, keep).contiguous();
      v = v.narrow(2, S - keep, keep).contiguous();
    }
  }
  Tensor merged = a.transpose(1, 2).reshape({B, T, D});
  if (gate) merged = mul(silu((*gate)(hx)), (*gn)(merged.reshape({B * T, D})).reshape({B, T, D}));
  Tensor h = (*proj)(merged);
  Tensor y = add(x, dropout(h, p, is_training()));
  return add(y, dropout((*mlp)((*ln2)(y)), p, is_training()));
}

GPT::GPT(const GPTOptions& o) : o_(o) {
  check_options(o);
  tok = register_module("tok", std::make_shared<nn::Embedding>(o.vocab, o.width));
  if (o.positions == "learned")
    pos = register_module("pos", std::make_shared<nn::LearnedPositionalEmbedding>(o.context, o.width));
  else
    rotary_ = std::make_shared<nn::RotaryEmbedding>(o.width / o.heads);
  blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
  for (int64_t l = 0; l < o.layers; ++l) blocks->push_back(std::make_shared<GPTBlock>(o, rotary_));
  ln = register_module("ln", std::make_shared<nn::LayerNorm>(Shape{o.width}));
  head = register_module("head", std::make_shared<nn::Linear>(o.width, o.vocab, !o.tie_embeddings));
  // GPT-2's initialization: N(0, 0.02) weights and embeddings, zero biases, and
  // the projections into the residual stream scaled by 1 / sqrt(2 x layers).
  const double resid = 0.02 / std::sqrt(2.0 * static_cast<double>(o.layers));
  NoGradGuard ng;
  for (auto& [path, m] : named_modules()) {
    if (auto* lin = dynamic_cast<nn::Linear*>(m.get())) {
      const bool into_residual = path.ends_with(".proj") || path.ends_with(".mlp.2") || path.ends_with(".mlp.w2");
      nn::init::normal_(lin->weight, 0.0, into_residual ? resid : 0.02);
      if (lin->bias.defined()) nn::init::zeros_(lin->bias);
    } else if (auto* emb = dynamic_cast<nn::Embedding*>(m.get())) {
      nn::init::normal_(emb->weight, 0.0, 0.02);
    }
  }
  if (o.tie_embeddings) set_tensor("head.weight", tok->weight);
}

std::string GPT::extra_repr() const {
  return fmt::format("vocab={}, layers={}, width={}, heads={}, context={}, mlp={}, {}, {} positions, {} attention{}",
                     o_.vocab, o_.layers, o_.width, o_.heads, o_.context, mlp_width_of(o_), o_.activation,
                     o_.positions, o_.attention.str(), o_.tie_embeddings ? ", tied" : "");
}

Tensor GPT::run(const Tensor& tokens, int64_t offset, RecurrentState& state) {
  Tensor x = (*tok)(tokens);
  if (pos) x = pos->forward(x, offset);
  for (int64_t l = 0; l < o_.layers; ++l) {
    auto& block = static_cast<GPTBlock&>(*(*blocks)[static_cast<size_t>(l)]);
    x = block.forward(x, offset, state[1 + 2 * l], state[2 + 2 * l]);
  }
  return (*head)((*ln)(x));
}

Tensor GPT::forward_state(const Tensor& tokens, RecurrentState& state) {
  NABLA_CHECK(tokens.dim() == 2 && tokens.dtype() == DType::i64, "GPT: expected token ids [batch, time] (i64), got {} {}",
              dtype_name(tokens.dtype()), shape_str(tokens.sizes()));
  const int64_t B = tokens.size(0), T = tokens.size(1), C = o_.context;
  NABLA_CHECK(T <= C, "GPT: a window of {} tokens passes the context of {} (use --bptt <= --context)", T, C);
  const size_t want = 1 + 2 * static_cast<size_t>(o_.layers);
  NABLA_CHECK(state.empty() || state.size() == want, "GPT: a state holds {} tensors ({} layers), got {}", want,
              o_.layers, state.size());
  if (!state.empty())
    NABLA_CHECK(state[0].dim() == 2 && state[0].size(0) == B, "GPT: the state is for batch {}, the tokens are {}",
                state[0].dim() == 2 ? state[0].size(0) : -1, shape_str(tokens.sizes()));
  Tensor seen = state.empty() ? Tensor() : state[0];
  int64_t S = seen.defined() ? seen.size(1) : 0;
  if (S + T > C) {
    // Keep the last tokens that leave room for this window (at most half the
    // context, so the recomputation below happens once per C / 2 steps), and
    // rebuild their cache from position 0.
    const int64_t keep = std::min({S, C - T, C / 2});
    state.assign(want, Tensor());
    if (keep > 0) {
      Tensor kept = seen.narrow(1, S - keep, keep).contiguous();
      state[0] = kept;
      run(kept, 0, state);
    }
    seen = keep > 0 ? state[0] : Tensor();
    S = keep;
  }
  if (state.empty()) state.assign(want, Tensor());
  Tensor logits = run(tokens, S, state);
  state[0] = seen.defined() ? cat({seen, tokens}, 1) : tokens.contiguous();
  return logits;
}

nn::ModulePtr gpt(const ModelConfig& cfg) {
  GPTOptions o;
  const TransformerSizes& t = cfg.transformer;
  o.vocab = cfg.num_classes;
  if (t.layers) o.layers = t.layers;
  if (t.width) o.width = t.width;
  if (t.heads) o.heads = t.heads;
  if (t.mlp_width) o.mlp_width = t.mlp_width;
  if (t.context) o.context = t.context;
  if (!t.activation.empty()) o.activation = t.activation;
  if (!t.positions.empty()) o.positions = t.positions;
  if (!t.attention.empty()) o.attention = nn::AttentionVariant::parse(t.attention);
  NABLA_CHECK(t.patch == 0, "gpt: --patch is for vit");
  o.tie_embeddings = !t.untied;
  o.dropout = cfg.dropout;
  return std::make_shared<GPT>(o);
}

}  // namespace nabla::models
