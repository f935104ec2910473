// oneDNN convolutions keep the weights they reordered and reuse them while the
// weight tensor is unchanged; any change must be seen.
#include <gtest/gtest.h>

#include "nabla/nabla.h"

using namespace nabla;

namespace {

// The same convolution in f64 (im2col path, no cache), as the reference.
Tensor reference(const Tensor& x, const Tensor& w) {
  return conv2d(x.to(DType::f64), w.to(DType::f64), Tensor(), 1, 1).to(DType::f32);
}

}  // namespace

TEST(ConvWeights, InPlaceChangesAreSeen) {
  manual_seed(5);
  NoGradGuard ng;
  Tensor x = randn({1, 32, 12, 12}), w = randn({64, 32, 5, 5});
  Tensor y1 = conv2d(x, w, Tensor(), 1, 1);
  EXPECT_TRUE(allclose(y1, reference(x, w), 1e-4, 1e-3));
  EXPECT_TRUE(allclose(conv2d(x, w, Tensor(), 1, 1), y1));  // reused weights, same result
  w.mul_(-2.0);
  Tensor y2 = conv2d(x, w, Tensor(), 1, 1);
  EXPECT_TRUE(allclose(y2, y1 * -2.0, 1e-4, 1e-3));
  w.narrow(0, 0, 1).fill_(0.0);  // through a view: the same storage's version moves
  Tensor y3 = conv2d(x, w, Tensor(), 1, 1);
  EXPECT_TRUE(allclose(y3, reference(x, w), 1e-4, 1e-3));
}

TEST(ConvWeights, NewTensorAtAReusedAddressIsSeen) {
  manual_seed(6);
  NoGradGuard ng;
  Tensor x = randn({1, 32, 12, 12});
  const void* first = nullptr;
  for (int i = 0; i < 4; ++i) {
    Tensor w = randn({64, 32, 5, 5});  // the caching allocator hands back the same block
    if (i == 0) first = w.raw_data();
    EXPECT_TRUE(allclose(conv2d(x, w, Tensor(), 1, 1), reference(x, w), 1e-4, 1e-3)) << "iteration " << i;
  }
  EXPECT_NE(first, nullptr);
}

TEST(ConvWeights, TrainingStepsUseTheUpdatedWeights) {
  manual_seed(7);
  nn::Conv2d conv(3, 8, 3, 1, 1);
  optim::SGD opt(conv.parameters(), 0.5);
  Tensor x = randn({2, 3, 6, 6});
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    Tensor y = conv.forward(x);
    Tensor want = conv2d(x.to(DType::f64), conv.weight.to(DType::f64), conv.bias.to(DType::f64), 1, 1);
    EXPECT_TRUE(allclose(y.to(DType::f64), want, 1e-4, 1e-4)) << "step " << step;
    (y * y).mean().backward();
    opt.step();
  }
}
