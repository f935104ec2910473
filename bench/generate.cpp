// Generation cost of the zoo's gpt: microseconds per new token at a given
// context length, with the key/value cache (one step per token), without it
// (the whole window recomputed per token), and for the linear-attention and
// retention variants, whose fixed-size state makes a step cost the same at any
// context. A gpt of 4 blocks x 256, 4 heads, rotary positions, context 4096,
// random weights, batch 1, no gradients.
//   build/release/bench/nabla_generate [--steps N] [--contexts 128,1024,4096]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "nabla/nabla.h"

namespace {

using namespace nabla;
using clock_type = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t steps = 16;
  std::vector<int64_t> contexts{128, 1024, 4096};
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--steps") == 0) steps = std::max<int64_t>(1, std::atoll(argv[i + 1]));
    if (std::strcmp(argv[i], "--contexts") == 0) {
      contexts.clear();
      std::stringstream ss(argv[i + 1]);
      for (std::string part; std::getline(ss, part, ',');) contexts.push_back(std::stoll(part));
    }
  }
  models::GPTOptions o;
  o.positions = "rotary";
  o.context = *std::max_element(contexts.begin(), contexts.end());
  manual_seed(0);
  models::GPT model(o);
  model.eval();
  models::GPTOptions lo = o, ro = o;
  lo.attention = nn::AttentionVariant::parse("linear");
  ro.attention = nn::AttentionVariant::parse("retention");
  models::GPT linear_model(lo), retention_model(ro);
  linear_model.eval();
  retention_model.eval();
  NoGradGuard ng;
  Generator gen(1);
  std::printf("gpt %ld x %ld, %ld heads, rotary, context %ld; %d threads, kernels %s\n\n", o.layers, o.width, o.heads,
              o.context, get_num_threads(), cpu_isa());
  std::printf("| tokens before the new one | with the cache (µs/token) | without (µs/token) | ratio | linear attention "
              "(µs/token) | retention (µs/token) |\n|---|---|---|---|---|---|\n");
  // Warm-up: first-touch allocations and the kernels' per-shape set-up stay out of the first row.
  for (models::GPT* m : {&model, &linear_model, &retention_model}) {
    models::RecurrentState state;
    Tensor ids = randint(0, o.vocab, {1, 64}, DType::i64, &gen);
    m->forward_state(ids, state);
    for (int i = 0; i < 8; ++i) m->forward_state(ids.narrow(1, i, 1).contiguous(), state);
  }
  for (int64_t ctx : contexts) {
    const int64_t before = ctx - steps;
    if (before < 1) continue;
    Tensor ids = randint(0, o.vocab, {1, ctx}, DType::i64, &gen);
    // With the cache (or the variants' state): the prompt once, then one token per step.
    auto stepwise = [&](models::GPT& m) {
      models::RecurrentState state;
      m.forward_state(ids.narrow(1, 0, before).contiguous(), state);
      std::vector<double> times;
      for (int64_t t = before; t < ctx; ++t) {
        auto t0 = clock_type::now();
        m.forward_state(ids.narrow(1, t, 1).contiguous(), state);
        times.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
      }
      return median(times);
    };
    const double c = stepwise(model), lin = stepwise(linear_model), ret = stepwise(retention_model);
    // Without: the whole window so far, each step (fewer steps at long contexts: each is a full forward).
    std::vector<double> full;
    for (int64_t t = before; t < std::min(ctx, before + std::max<int64_t>(2, steps / 4)); ++t) {
      auto t0 = clock_type::now();
      model.forward(ids.narrow(1, 0, t + 1).contiguous());
      full.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
    }
    const double f = median(full);
    std::printf("| %ld | %.0f | %.0f | %.1fx | %.0f | %.0f |\n", before, c, f, f / c, lin, ret);
  }
  return 0;
}
