// Trains a two-layer network on a synthetic regression problem with nabla's
// autograd and prints the loss as it falls. Target: y = tanh(2 x0) x1 + x1^2.
#include <cstdio>

#include "nabla/nabla.h"

using namespace nabla;

int main() {
  manual_seed(0);
  const int64_t n = 1024, hidden = 64;
  Tensor x = rand({n, 2}) * 2.0 - 1.0;
  Tensor x0 = x.select(1, 0), x1 = x.select(1, 1);
  Tensor y = (tanh(x0 * 2.0) * x1 + x1 * x1).unsqueeze(1);

  // He-style initialization: weights ~ N(0, 2 / fan_in).
  Tensor w1 = (randn({hidden, 2}) * std::sqrt(2.0 / 2)).requires_grad_();
  Tensor b1 = zeros({hidden}).requires_grad_();
  Tensor w2 = (randn({1, hidden}) * std::sqrt(2.0 / hidden)).requires_grad_();
  Tensor b2 = zeros({1}).requires_grad_();
  std::vector<Tensor> params{w1, b1, w2, b2};

  const double lr = 0.1;
  for (int step = 0; step <= 2000; ++step) {
    Tensor pred = linear(relu(linear(x, w1, b1)), w2, b2);
    Tensor loss = mse_loss(pred, y);
    for (Tensor& p : params) p.set_grad(Tensor());
    loss.backward();
    {
      NoGradGuard no_grad;
      for (Tensor& p : params) p.sub_(p.grad() * lr);
    }
    if (step % 200 == 0) std::printf("step %4d  loss %.6f\n", step, loss.item());
  }
  return 0;
}
