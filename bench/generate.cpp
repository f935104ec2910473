// Generation cost of the zoo's gpt: microseconds per new token at a given
// context length, with the key/value cache (one step per token) and without it
// (the whole window recomputed per token). A gpt of 4 blocks x 256, 4 heads,
// rotary positions, context 4096, random weights, batch 1, no gradients.
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
  NoGradGuard ng;
  Generator gen(1);
  std::printf("gpt %ld x %ld, %ld heads, rotary, context %ld; %d threads, kernels %s\n\n", o.layers, o.width, o.heads,
              o.context, get_num_threads(), cpu_isa());
  std::printf("| tokens before the new one | with the cache (µs/token) | without (µs/token) | ratio |\n|---|---|---|---|\n");
  for (int64_t ctx : contexts) {
    const int64_t before = ctx - steps;
    if (before < 1) continue;
    Tensor ids = randint(0, o.vocab, {1, ctx}, DType::i64, &gen);
    // With the cache: the prompt once, then one token per step.
    models::RecurrentState state;
    model.forward_state(ids.narrow(1, 0, before).contiguous(), state);
    std::vector<double> cached;
    for (int64_t t = before; t < ctx; ++t) {
      auto t0 = clock_type::now();
      model.forward_state(ids.narrow(1, t, 1).contiguous(), state);
      cached.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
    }
    // Without: the whole window so far, each step (fewer steps at long contexts: each is a full forward).
    std::vector<double> full;
    for (int64_t t = before; t < std::min(ctx, before + std::max<int64_t>(2, steps / 4)); ++t) {
      auto t0 = clock_type::now();
      model.forward(ids.narrow(1, 0, t + 1).contiguous());
      full.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
    }
    const double c = median(cached), f = median(full);
    std::printf("| %ld | %.0f | %.0f | %.1fx |\n", before, c, f, f / c);
  }
  return 0;
}
