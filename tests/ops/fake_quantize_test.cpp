// Fake quantization: values and the straight-through gradient by hand, per
// tensor and per channel, in f32 and f64, on empty and strided input; bad
// arguments refused. (PyTorch's own ops are the peer: tests/peer.)
#include <gtest/gtest.h>

#include "nabla/nabla.h"

using namespace nabla;

TEST(FakeQuantize, ValuesAndTheStraightThroughGradient) {
  for (DType dt : {DType::f32, DType::f64}) {
    // scale 0.5, zero point 1, q in [0, 7]: representable values -0.5, 0, ..., 3.
    Tensor x = from_vector<double>({-2.0, -0.5, 0.2, 0.3, 1.24, 2.76, 3.0, 9.0}).to(dt).requires_grad_();
    Tensor y = fake_quantize_per_tensor_affine(x, 0.5, 1, 0, 7);
    EXPECT_EQ(y.to(DType::f64).to_vector<double>(), (std::vector<double>{-0.5, -0.5, 0.0, 0.5, 1.0, 3.0, 3.0, 3.0}));
    sum(y * from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8}).to(dt)).backward();
    // Clamped (-2 -> q -3, 9 -> q 19) get nothing; 2.76 -> q 7 and 3.0 -> q 7 are inside.
    EXPECT_EQ(x.grad().to(DType::f64).to_vector<double>(), (std::vector<double>{0, 2, 3, 4, 5, 6, 7, 0}));
  }
}

TEST(FakeQuantize, PerChannelAlongAnAxisOnStridedInput) {
  Tensor base = from_vector<float>({0.26f, 0.26f, 1.0f, 1.0f, -3.0f, -3.0f}, {3, 2});
  Tensor x = base.t();  // [2, 3], strided; channels along dim 1
  Tensor y = fake_quantize_per_channel_affine(x, from_vector<float>({0.1f, 0.5f, 1.0f}), from_vector<int64_t>({0, 0, 2}),
                                              1, -2, 2);
  // channel 0: 0.26 -> q 3 -> clamped to 2 -> 0.2; channel 1: 1.0 -> q 2 -> 1.0; channel 2: -3 -> q -1 -> -3.
  EXPECT_TRUE(allclose(y, from_vector<float>({0.2f, 1.0f, -3.0f, 0.2f, 1.0f, -3.0f}, {2, 3})));
  EXPECT_EQ(fake_quantize_per_tensor_affine(zeros({0, 3}), 0.1, 0, -8, 7).sizes(), (Shape{0, 3}));
}

TEST(FakeQuantize, BadArgumentsAreRefused) {
  Tensor x = randn({2, 3});
  EXPECT_THROW(fake_quantize_per_tensor_affine(x, 0.0, 0, -8, 7), Error);
  EXPECT_THROW(fake_quantize_per_tensor_affine(x, 0.1, 9, -8, 7), Error);
  EXPECT_THROW(fake_quantize_per_tensor_affine(x, 0.1, 0, 7, -8), Error);
  EXPECT_THROW(fake_quantize_per_tensor_affine(x.to(DType::i64), 0.1, 0, -8, 7), Error);
  EXPECT_THROW(fake_quantize_per_channel_affine(x, ones({2}), zeros({2}, DType::i64), 1, -8, 7), Error);
  EXPECT_THROW(fake_quantize_per_channel_affine(x, ones({3}), full({3}, 1e12, DType::i64), 1, -8, 7), Error);
}
