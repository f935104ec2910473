#pragma once
// Sampling text from a language model, one token at a time from its carried state.
#include <functional>
#include <vector>

#include "nabla/models/char_rnn.h"
#include "nabla/tensor/generator.h"

namespace nabla::train {

/// How the next token is drawn.
struct SamplingOptions {
  int64_t length = 200;      ///< tokens to generate
  double temperature = 1.0;  ///< logits are divided by this; 0 takes the most likely token
  int64_t top_k = 0;         ///< sample among the k most likely tokens only; 0: all
};

/// Draws one token id from `logits` [V] (the highest logit wins ties under temperature 0).
int64_t sample_token(const Tensor& logits, const SamplingOptions& o, Generator& gen);

/// Reads `prompt` (ids; at least one) into the model from zero state, then
/// draws `o.length` tokens, each fed back as the next input. Calls
/// `on_token` with each new id as it is drawn; returns the new ids.
std::vector<int64_t> generate(models::LanguageModel& model, const std::vector<int64_t>& prompt,
                              const SamplingOptions& o, Generator& gen,
                              const std::function<void(int64_t)>& on_token = {});

}  // namespace nabla::train
