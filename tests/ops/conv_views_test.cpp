// Convolutions whose weight and bias are strided views of parameters, run after
// many other convolutions in one process and on every thread: the oneDNN path
// (f32) must give the gradients of the reference path (f64, im2col + GEMM).
#include <gtest/gtest.h>

#include "nabla/nabla.h"

namespace {

using namespace nabla;

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return max(abs(sub(a.to(DType::f64), b.to(DType::f64)))).item();
}

// The parameter p seen through transpose(1, 3), the bias through a stride-2 slice.
struct ViewCase {
  Tensor wp, bp, x;
};

TEST(ConvViews, WeightGradientOfTransposedWeightViewIsRightAfterManyConvolutions) {
  Generator gen(7);
  for (int rep = 0; rep < 6; ++rep) {
    set_num_threads(rep % 2 ? 1 : 2);
    // Other convolutions first, so the allocator hands out reused blocks.
    for (int i = 0; i < 24; ++i) {
      const int64_t C = 1 + i % 4, O = 2 + i % 3, k = 1 + i % 3;
      Tensor x = randn({2, C, 5 + i % 4, 6}, DType::f32, &gen).requires_grad_();
      Tensor w = randn({O, C, k, k}, DType::f32, &gen).requires_grad_();
      sum(conv2d(x, w, Tensor(), 1 + i % 2, i % 2)).backward();
    }
    {  // Blocks of every small size, full of large values, back to the allocator.
      std::vector<Tensor> junk;
      for (int64_t n = 1; n <= 64; ++n) junk.push_back(full({n}, 1e3));
    }
    ViewCase c;
    c.wp = randn({3, 3, 1, 1}, DType::f32, &gen).requires_grad_();  // transpose(1, 3) -> [3, 1, 1, 3]
    c.bp = randn({6}, DType::f32, &gen).requires_grad_();
    c.x = randn({2, 3, 6, 4}, DType::f32, &gen).requires_grad_();
    Tensor gy = randn({2, 3, 3, 1}, DType::f32, &gen);
    auto run = [&](DType dt) {
      Tensor wp = c.wp.detach().to(dt).requires_grad_(), bp = c.bp.detach().to(dt).requires_grad_();
      Tensor x = c.x.detach().to(dt).requires_grad_();
      Tensor w = wp.transpose(1, 3), b = bp.slice(0, 0, 6, 2);
      Conv2dParams p;
      p.stride = {2, 2};
      p.groups = 3;
      Tensor y = conv2d(x, w, b, p);
      EXPECT_EQ(y.sizes(), (Shape{2, 3, 3, 1}));
      sum(mul(y, gy.to(dt))).backward();
      return std::vector<Tensor>{y.detach(), x.grad(), wp.grad(), bp.grad()};
    };
    set_num_threads(rep % 2 ? 2 : 1);
    std::vector<Tensor> got = run(DType::f32), want = run(DType::f64);
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_LT(max_abs_diff(got[i], want[i]), 1e-4) << "rep " << rep << ", output " << i;
  }
}

}  // namespace
