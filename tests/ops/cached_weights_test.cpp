// Kernels that keep a converted copy of the weights (oneDNN convolutions their
// reordered weights, batch-1 inference of dense layers its packed panels) reuse
// it while the weight tensor is unchanged; any change must be seen.
#include <gtest/gtest.h>

#include <cmath>
#include <type_traits>
#include <utility>

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

namespace {

Tensor linear_reference(const Tensor& x, const Tensor& w, const Tensor& b) {
  return linear(x.to(DType::f64), w.to(DType::f64), b.to(DType::f64)).to(DType::f32);
}

}  // namespace

TEST(PanelWeights, InferenceSkipsZerosAndMatchesTheDenseProduct) {
  manual_seed(8);
  NoGradGuard ng;
  // 140 outputs: two full panels of 64 and a padded one; zeros in x are skipped.
  Tensor w = randn({140, 33}), b = randn({140});
  for (int64_t rows : {1, 3}) {
    Tensor x = relu(randn({rows, 33}));
    EXPECT_TRUE(allclose(linear(x, w, b), linear_reference(x, w, b), 1e-5, 1e-5)) << rows << " rows";
  }
  // A column holding inf meets a zero input: 0 * inf is NaN, as in the dense product.
  Tensor x = relu(randn({1, 33}));
  x.narrow(1, 5, 1).fill_(0.0);
  w.narrow(1, 5, 1).narrow(0, 2, 1).fill_(INFINITY);
  Tensor y = linear(x, w, b);
  EXPECT_TRUE(std::isnan(y.narrow(1, 2, 1).item()));
  EXPECT_FALSE(std::isnan(y.narrow(1, 3, 1).item()));
}

TEST(PanelWeights, InPlaceChangesAreSeen) {
  manual_seed(9);
  NoGradGuard ng;
  Tensor w = randn({128, 600}), b = randn({128}), x = randn({1, 600});
  Tensor y1 = linear(x, w, b);
  EXPECT_TRUE(allclose(linear(x, w, b), y1));
  w.mul_(3.0);
  EXPECT_TRUE(allclose(linear(x, w, b), linear_reference(x, w, b), 1e-4, 1e-4));
  for (int i = 0; i < 3; ++i) {  // fresh weights, likely at the address of the last ones
    Tensor w2 = randn({128, 600});
    EXPECT_TRUE(allclose(linear(x, w2, b), linear_reference(x, w2, b), 1e-4, 1e-4)) << "iteration " << i;
  }
}

// data<T>() on a const tensor reads; on a non-const one it is write access and
// moves the storage's version, so every cache of converted weights repacks.
static_assert(std::is_same_v<decltype(std::declval<const Tensor&>().data<float>()), const float*>);
static_assert(std::is_same_v<decltype(std::declval<Tensor&>().data<float>()), float*>);

TEST(CachedWeights, WritesThroughTheDataPointerAreSeen) {
  manual_seed(10);
  NoGradGuard ng;
  nn::Linear fc(600, 128);
  nn::Conv2d conv(32, 64, 5, 1, 1);
  fc.eval();
  conv.eval();
  Tensor x = randn({1, 600}), img = randn({1, 32, 12, 12});
  Tensor y1 = fc.forward(x), z1 = conv.forward(img);  // packs the panels, reorders the conv weights
  const Tensor& read_only = fc.weight;
  const uint64_t before = read_only.storage()->version();
  EXPECT_NE(read_only.data<float>(), nullptr);
  EXPECT_EQ(read_only.storage()->version(), before);  // reading moves nothing
  fc.weight.data<float>()[7 * 600 + 3] += 50.0f;      // one weight, through the pointer
  conv.weight.data<float>()[0] -= 10.0f;
  EXPECT_GT(fc.weight.storage()->version(), before);
  Tensor y2 = fc.forward(x), z2 = conv.forward(img);
  EXPECT_TRUE(allclose(y2, linear_reference(x, fc.weight, fc.bias), 1e-4, 1e-4));
  EXPECT_NEAR((y2 - y1).narrow(1, 7, 1).item(), 50.0 * x.narrow(1, 3, 1).item(), 1e-3);
  Tensor want = conv2d(img.to(DType::f64), conv.weight.to(DType::f64), conv.bias.to(DType::f64), 1, 1);
  EXPECT_TRUE(allclose(z2.to(DType::f64), want, 1e-4, 1e-3));
  EXPECT_FALSE(allclose(z2, z1));
}

TEST(CachedWeights, AWriteThroughTheDataPointerInvalidatesASavedTensor) {
  Tensor x = randn({4}).requires_grad_();
  Tensor y = (x * x).sum();  // saves x
  x.data<float>()[0] = 3.0f;
  try {
    y.backward();
    FAIL() << "backward used a tensor written after it was saved";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("modified by an in-place operation"), std::string::npos) << e.what();
  }
}
