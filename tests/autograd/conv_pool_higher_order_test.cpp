// Convolutions and pooling under create_graph: the gradient maps
// conv2d_input_grad / conv2d_weight_grad agree with conv2d's own backward and
// refuse shapes that do not fit; the f32 oneDNN and channels-last paths give
// the same second derivatives as the f64 im2col path (the gradient checks and
// peer fixtures run in f64, which never takes them).
#include <gtest/gtest.h>

#include "nabla/nabla.h"

using namespace nabla;

namespace {

Conv2dParams params(int64_t stride, int64_t pad, int64_t dil, int64_t groups) {
  Conv2dParams p;
  p.stride = {stride, stride};
  p.padding = {pad, pad, pad, pad};
  p.dilation = {dil, dil};
  p.groups = groups;
  return p;
}

void expect_near(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  auto x = a.to(DType::f64).to_vector<double>(), y = b.to(DType::f64).to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], tol * (1 + std::abs(y[i]))) << what << " at " << i;
}

TEST(ConvGradMaps, EqualConv2dBackward) {
  Generator gen(3);
  for (auto [stride, pad, dil, groups] : std::vector<std::array<int64_t, 4>>{{1, 0, 1, 1}, {2, 1, 1, 1}, {1, 2, 2, 2},
                                                                              {3, 1, 1, 4}}) {
    Conv2dParams p = params(stride, pad, dil, groups);
    Tensor x = randn({2, 4, 7, 6}, DType::f64, &gen).requires_grad_();
    Tensor w = randn({4, 4 / groups, 3, 2}, DType::f64, &gen).requires_grad_();
    Tensor y = conv2d(x, w, Tensor(), p);
    Tensor g = randn(y.sizes(), DType::f64, &gen);
    y.backward(g);
    expect_near(conv2d_input_grad(x.sizes(), w, g, p), x.grad(), 1e-12, "input grad");
    expect_near(conv2d_weight_grad(x, w.sizes(), g, p), w.grad(), 1e-12, "weight grad");
  }
}

TEST(ConvGradMaps, RefuseAGradOutputOfTheWrongShape) {
  Tensor x = zeros({1, 2, 5, 5}, DType::f64), w = zeros({3, 2, 3, 3}, DType::f64);
  try {
    conv2d_input_grad(x.sizes(), w, zeros({1, 3, 4, 4}, DType::f64), Conv2dParams{});
    FAIL() << "accepted a [1, 3, 4, 4] gradient for a [1, 3, 3, 3] output";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected grad_output [1, 3, 3, 3]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(conv2d_weight_grad(x, {3, 2, 3, 3}, zeros({1, 3, 3, 3}), Conv2dParams{}), Error);  // f32 vs f64
  EXPECT_THROW(conv2d_weight_grad(x, {3, 4, 3, 3}, zeros({1, 3, 3, 3}, DType::f64), Conv2dParams{}), Error);
}

// A conv net's loss with an input-gradient penalty, then the Hessian-vector
// product in its weights: third derivatives through conv2d and both poolings.
std::vector<Tensor> penalty_hvp(DType dt, bool channels_last) {
  Generator gen(5);
  auto r = [&](Shape s) { return randn(s, DType::f64, &gen).to(dt).requires_grad_(); };
  Tensor c1 = r({4, 3, 3, 3}), c2 = r({4, 4, 1, 1}), w = r({2, 4});
  Tensor x = randn({2, 3, 8, 8}, DType::f64, &gen).to(dt);
  if (channels_last) x = channels_last_copy(x);
  x.requires_grad_();
  Tensor h = conv2d(x, c1, Tensor(), 1, 1);
  if (channels_last) h = h.permute({0, 2, 3, 1}).contiguous().permute({0, 3, 1, 2});  // differentiably
  h = max_pool2d(tanh(h), 2);
  h = avg_pool2d(tanh(conv2d(h, c2)), 2);
  Tensor out = cross_entropy(linear(adaptive_avg_pool2d(h, {1, 1}).flatten(1), w), from_vector<int64_t>({0, 1}));
  Tensor gx = autograd::grad({out}, {x}, {}, std::nullopt, true)[0];
  Tensor loss = out + pow(gx, 2.0).sum();
  std::vector<Tensor> ps = {c1, c2, w};
  std::vector<Tensor> g = autograd::grad({loss}, ps, {}, std::nullopt, true);
  Tensor dot = zeros({}, dt);
  for (const Tensor& gi : g) dot = dot + (gi * gi.detach()).sum();
  std::vector<Tensor> hv = autograd::grad({dot}, ps);
  hv.insert(hv.begin(), g.begin(), g.end());
  return hv;
}

TEST(ConvPoolHigherOrder, F32KernelsMatchF64) {
  std::vector<Tensor> ref = penalty_hvp(DType::f64, false);
  // f32 convolutions run on oneDNN and give channels-last outputs, so max pooling
  // takes its channels-last path in both; the second also feeds a channels-last input.
  for (bool cl : {false, true}) {
    std::vector<Tensor> got = penalty_hvp(DType::f32, cl);
    for (size_t i = 0; i < ref.size(); ++i)
      expect_near(got[i], ref[i], 2e-3, std::string(cl ? "channels-last " : "") + "derivative " + std::to_string(i));
  }
}

TEST(ConvPoolHigherOrder, ChannelsLastMaxPoolMatchesPlanar) {
  Generator gen(9);
  Tensor base = randn({2, 3, 6, 5}, DType::f64, &gen);
  std::vector<Tensor> res;
  for (bool cl : {false, true}) {
    Tensor x = (cl ? channels_last_copy(base) : base.clone()).requires_grad_();
    Pool2dParams p;
    p.kernel = {3, 2};
    p.stride = {2, 1};
    p.padding = {1, 1};
    Tensor sq = x * x;
    EXPECT_EQ(is_channels_last(sq) && !sq.is_contiguous(), cl);
    Tensor y = max_pool2d(sq, p);
    Tensor gx = autograd::grad({pow(y, 2.0).sum()}, {x}, {}, std::nullopt, true)[0];
    res.push_back(autograd::grad({(gx * gx).sum()}, {x})[0]);
  }
  expect_near(res[1], res[0], 1e-12, "second derivative");
}

}  // namespace
