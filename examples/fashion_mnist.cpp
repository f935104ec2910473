// Trains an MLP on Fashion-MNIST from C++ and prints its test accuracy:
// the same run as `nabla train --model mlp`, written out by hand.
#include <cstdio>

#include "nabla/nabla.h"

using namespace nabla;

int main() {
  manual_seed(0);
  data::Splits d = data::load_data_spec("fashion-mnist");  // Debian's dataset-fashion-mnist
  data::Preprocess pre;                                    // pixels / 255, then standardized
  std::tie(pre.mean, pre.std) = data::channel_stats(d.train->inputs());

  auto model = std::make_shared<nn::Sequential>(nn::Flatten(), nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 128),
                                                nn::ReLU(), nn::Linear(128, 100), nn::ReLU(), nn::Linear(100, 10));
  optim::Adam opt(model->parameters(), 1e-3);
  const int epochs = 20;
  optim::CosineAnnealingLR sched(opt, epochs);

  data::DataLoader loader(d.train, {.batch_size = 128, .shuffle = true}, pre.train_transform());
  for (int epoch = 0; epoch < epochs; ++epoch) {
    model->train();
    loader.start_epoch(epoch);
    while (auto batch = loader.next()) {
      Tensor loss = cross_entropy((*model)(batch->input), batch->target);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    sched.step();
    train::EvalResult r = train::evaluate(*model, *d.test, pre);
    std::printf("epoch %2d  test loss %.4f  test accuracy %.4f\n", epoch + 1, r.loss, r.accuracy);
  }
  io::save_safetensors("fashion_mlp.safetensors", model->state_dict());
  return 0;
}
