// Channels-last layout: the helpers, and the ops that keep it (convolution,
// batch norm, elementwise) giving the same values as on row-major tensors.
#include <gtest/gtest.h>

#include "nabla/nabla.h"

using namespace nabla;

TEST(Layout, DenseDimOrder) {
  EXPECT_EQ(dense_dim_order({2, 3, 4}, {12, 4, 1}), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(dense_dim_order({2, 3, 4, 5}, {60, 1, 15, 3}), (std::vector<int64_t>{0, 2, 3, 1}));
  EXPECT_EQ(dense_dim_order({3, 4}, {1, 3}), (std::vector<int64_t>{1, 0}));
  EXPECT_TRUE(dense_dim_order({3, 4}, {8, 2}).empty());  // gaps: a strided slice
  EXPECT_TRUE(dense_dim_order({3, 4}, {0, 1}).empty());  // overlap: an expand
  EXPECT_EQ(strides_in_order({2, 3, 4, 5}, {0, 2, 3, 1}), (Shape{60, 1, 15, 3}));
}

TEST(Layout, ChannelsLastCopyKeepsValues) {
  Tensor x = arange(120.0).reshape({2, 3, 4, 5});
  EXPECT_FALSE(is_channels_last(x));
  Tensor c = channels_last_copy(x);
  EXPECT_TRUE(is_channels_last(c));
  EXPECT_EQ(c.strides(), (Shape{60, 1, 15, 3}));
  EXPECT_EQ(c.to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(channels_last_copy(c).storage(), c.storage());  // already channels-last: no copy
  EXPECT_TRUE(contiguous_copy(c).is_contiguous());
  EXPECT_EQ(contiguous_copy(c).to_vector<float>(), x.to_vector<float>());
  // One channel, or 1x1 images: both layouts are the same memory.
  EXPECT_TRUE(is_channels_last(randn({2, 1, 4, 4})));
  EXPECT_TRUE(is_channels_last(randn({2, 8, 1, 1})));
}

TEST(Layout, ElementwiseOpsKeepTheLayoutOfTheirInput) {
  Tensor x = channels_last_copy(randn({2, 4, 3, 3}));
  Tensor y = relu(x);
  EXPECT_TRUE(is_channels_last(y) && !y.is_contiguous());
  EXPECT_TRUE(allclose(y, relu(contiguous_copy(x))));
  Tensor b = randn({1, 4, 1, 1});
  Tensor z = add(x, b);  // broadcast second operand
  EXPECT_TRUE(is_channels_last(z));
  EXPECT_TRUE(allclose(z, add(contiguous_copy(x), b)));
  Tensor mixed = add(randn({2, 4, 3, 3}), x);  // the first full-shape input decides
  EXPECT_TRUE(mixed.is_contiguous());
  // A view of a channels-last result still means [N, C, H, W]: flattening gives NCHW order.
  EXPECT_EQ(y.flatten(1).to_vector<float>(), relu(contiguous_copy(x)).flatten(1).to_vector<float>());
}

TEST(Layout, ConvolutionAndBatchNormMatchTheRowMajorPath) {
  // f32 convolutions run on oneDNN in channels-last; f64 ones on im2col + GEMM in
  // row-major. Both, and batch norm in both layouts, must agree.
  manual_seed(3);
  Tensor x = randn({4, 5, 7, 6}), w = randn({8, 5, 3, 3}), bias = randn({8});
  Tensor xr = x.clone().requires_grad_(), wr = w.clone().requires_grad_();
  Tensor y = conv2d(xr, wr, bias, 1, 1);
  if (!is_channels_last(y)) GTEST_SKIP() << "oneDNN is off (NABLA_DNNL=0)";
  Tensor bn = batch_norm(y, Tensor(), Tensor(), Tensor(), Tensor(), true);
  EXPECT_TRUE(is_channels_last(bn) && !bn.is_contiguous());
  Tensor gy = randn(bn.sizes());
  (bn * gy).sum().backward();
  EXPECT_EQ(xr.grad().sizes(), x.sizes());

  Tensor xd = x.to(DType::f64).requires_grad_(), wd = w.to(DType::f64).requires_grad_();
  Tensor yd = conv2d(xd, wd, bias.to(DType::f64), 1, 1);
  EXPECT_TRUE(yd.is_contiguous());
  Tensor bnd = batch_norm(yd, Tensor(), Tensor(), Tensor(), Tensor(), true);
  (bnd * gy.to(DType::f64)).sum().backward();
  EXPECT_TRUE(allclose(y.to(DType::f64), yd, 1e-4, 1e-4));
  EXPECT_TRUE(allclose(bn.to(DType::f64), bnd, 1e-3, 1e-3));
  EXPECT_TRUE(allclose(xr.grad().to(DType::f64), xd.grad(), 1e-3, 1e-3));
  EXPECT_TRUE(allclose(wr.grad().to(DType::f64), wd.grad(), 1e-3, 1e-3));
}
