#include "nabla/train/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "nabla/autograd/grad_mode.h"
#include "nabla/tensor/factory.h"

namespace nabla::train {

int64_t sample_token(const Tensor& logits, const SamplingOptions& o, Generator& gen) {
  NABLA_CHECK(logits.dim() == 1 && logits.numel() > 0, "sample_token: expected logits [V], got {}",
              shape_str(logits.sizes()));
  NABLA_CHECK(o.temperature >= 0 && std::isfinite(o.temperature), "--temperature must be >= 0, got {}",
              o.temperature);
  NABLA_CHECK(o.top_k >= 0, "--top-k must be >= 0, got {}", o.top_k);
  std::vector<double> z = logits.to_vector<double>();
  for (double v : z) NABLA_CHECK(!std::isnan(v), "sample_token: the model gave a NaN logit");
  auto V = static_cast<int64_t>(z.size());
  std::vector<int64_t> order(z.size());
  std::iota(order.begin(), order.end(), 0);
  // Highest first; equal logits keep id order, so temperature 0 is deterministic.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return z[a] > z[b]; });
  if (o.temperature == 0) return order[0];
  int64_t k = o.top_k == 0 ? V : std::min(o.top_k, V);
  std::vector<double> p(static_cast<size_t>(k));
  double total = 0;
  for (int64_t i = 0; i < k; ++i) total += p[i] = std::exp((z[order[i]] - z[order[0]]) / o.temperature);
  double u = gen.uniform() * total;
  for (int64_t i = 0; i < k; ++i) {
    if (u < p[i]) return order[i];
    u -= p[i];
  }
  return order[k - 1];  // rounding left u just above the sum
}

std::vector<int64_t> generate(models::LanguageModel& model, const std::vector<int64_t>& prompt,
                              const SamplingOptions& o, Generator& gen, const std::function<void(int64_t)>& on_token) {
  NABLA_CHECK(!prompt.empty(), "generate: the prompt must hold at least one token");
  NABLA_CHECK(o.length >= 0, "generate: --length must be >= 0, got {}", o.length);
  NoGradGuard ng;
  bool was_training = model.is_training();
  model.eval();
  models::RecurrentState state;
  auto n = static_cast<int64_t>(prompt.size());
  // A transformer takes a long prompt in pieces of half its context (its cache then slides over it).
  const int64_t piece = model.context_length() > 0 ? std::max<int64_t>(1, model.context_length() / 2) : n;
  Tensor logits;
  for (int64_t i = 0; i < n; i += piece) {
    const int64_t len = std::min(piece, n - i);
    std::vector<int64_t> part(prompt.begin() + i, prompt.begin() + i + len);
    logits = model.forward_state(from_vector<int64_t>(part, {1, len}), state);
  }
  std::vector<int64_t> out;
  for (int64_t i = 0; i < o.length; ++i) {
    int64_t id = sample_token(logits.select(0, 0).select(0, logits.size(1) - 1), o, gen);
    out.push_back(id);
    if (on_token) on_token(id);
    if (i + 1 < o.length) logits = model.forward_state(from_vector<int64_t>({id}, {1, 1}), state);
  }
  model.train(was_training);
  return out;
}

}  // namespace nabla::train
