// A character language model from C++: truncated backpropagation through time
// by hand (the loop `nabla train --model char-lstm` runs), then sampling.
// Usage: char_lm [TEXT_FILE_OR_FOLDER]   (default: Debian's licence texts)
#include <cstdio>

#include "nabla/nabla.h"

using namespace nabla;

int main(int argc, char** argv) {
  manual_seed(0);
  auto text = data::load_text(argc > 1 ? argv[1] : "/usr/share/common-licenses");
  const int64_t V = text->vocab.size(), streams = 32, window = 128;
  models::CharRNN model("lstm", V, 64, 256, 2, 0.0);
  optim::Adam opt(model.parameters(), 2e-3);

  // The training text as `streams` parallel slices; each window's targets are its inputs shifted by one.
  int64_t n = (text->train.numel() - 1) / streams;
  Tensor x = text->train.narrow(0, 0, streams * n).reshape({streams, n});
  Tensor y = text->train.narrow(0, 1, streams * n).reshape({streams, n});
  for (int epoch = 0; epoch < 3; ++epoch) {
    models::RecurrentState state;  // carried across windows, cut off from the previous window's graph
    double loss_sum = 0;
    int64_t windows = 0;
    for (int64_t t = 0; t + window <= n; t += window, ++windows) {
      state = models::detach(state);
      Tensor logits = model.forward_state(x.narrow(1, t, window).contiguous(), state);
      Tensor loss = cross_entropy(logits.reshape({-1, V}), y.narrow(1, t, window).contiguous().reshape({-1}));
      opt.zero_grad();
      loss.backward();
      optim::clip_grad_norm_(model.parameters(), 5.0);
      opt.step();
      loss_sum += loss.item();
    }
    train::TextEvalResult val = train::evaluate_text(model, text->val);
    std::printf("epoch %d  train loss %.3f  validation loss %.3f nats/char (%.3f bits/char)\n", epoch + 1,
                loss_sum / static_cast<double>(windows), val.loss, val.bits_per_char());
  }
  Generator gen(1);
  train::SamplingOptions sampling;
  sampling.length = 200;
  sampling.temperature = 0.7;
  std::vector<int64_t> out = train::generate(model, text->vocab.encode("The "), sampling, gen);
  std::printf("The %s\n", text->vocab.decode(out).c_str());
  return 0;
}
