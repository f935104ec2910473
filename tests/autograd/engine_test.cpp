// The backward engine's features: several outputs per node, hooks, retain_grad,
// functional gradients (autograd::grad), create_graph and deep graphs.
#include <gtest/gtest.h>

#include "nabla/nabla.h"
#include "support/error_of.h"

using namespace nabla;
using nabla::testing::error_of;

namespace {

std::vector<double> vec(const Tensor& t) { return t.to_vector<double>(); }

// y0 = 2x, y1 = x^2 from one node (the kind split, max-with-indices and attention record).
std::vector<Tensor> two_outputs(const Tensor& x, int* calls) {
  Tensor y0, y1;
  {
    NoGradGuard ng;
    y0 = x * 2.0;
    y1 = x * x;
  }
  autograd::record_outputs({y0, y1}, "two_outputs", {x}, [x, calls](const std::vector<Tensor>& g) {
    ++*calls;
    Tensor gx = zeros_like(x);
    if (g[0].defined()) gx = gx + g[0] * 2.0;
    if (g[1].defined()) gx = gx + g[1] * x * 2.0;
    return std::vector<Tensor>{gx};
  }, {x});
  return {y0, y1};
}

}  // namespace

TEST(Engine, MultiOutputNodeRunsOnceWithEveryOutputsGradient) {
  Tensor x = from_vector<double>({1, 2, 3}).requires_grad_();
  int calls = 0;
  auto ys = two_outputs(x, &calls);
  EXPECT_EQ(ys[0].grad_fn(), ys[1].grad_fn());
  EXPECT_EQ(ys[0].output_nr(), 0u);
  EXPECT_EQ(ys[1].output_nr(), 1u);
  (ys[0].sum() + (ys[1] * 3.0).sum()).backward();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{2 + 6 * 1, 2 + 6 * 2, 2 + 6 * 3}));
  // Only one output used: the other's gradient arrives undefined.
  x.set_grad(Tensor());
  auto zs = two_outputs(x, &calls);
  zs[1].sum().backward();
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{2, 4, 6}));
}

TEST(Engine, SplitAndChunkBackwardIsOneNode) {
  Tensor x = from_vector<double>({1, 2, 3, 4, 5}).requires_grad_();
  auto parts = split(x, 2);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].grad_fn(), parts[2].grad_fn());
  (parts[0].sum() * 1.0 + parts[2].sum() * 3.0).backward();
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{1, 1, 0, 0, 3}));
  Tensor y = from_vector<double>({1, 2, 3, 4, 5, 6}).reshape({2, 3}).requires_grad_();
  auto cs = chunk(y, 3, 1);
  (cs[1] * cs[1]).sum().backward();
  EXPECT_EQ(vec(y.grad()), (std::vector<double>{0, 4, 0, 0, 10, 0}));
  // A piece is still a view of its input.
  EXPECT_EQ(cs[1].storage(), y.storage());
}

TEST(Engine, TensorHooksSeeAndReplaceGradients) {
  Tensor x = from_vector<double>({1, 2}).requires_grad_();
  Tensor h = x * 3.0;
  std::vector<double> seen;
  h.register_hook([&](const Tensor& g) {
    seen = vec(g);
    return g * 10.0;  // replaces the gradient flowing on
  });
  int leaf_calls = 0;
  x.register_hook([&](const Tensor& g) {
    ++leaf_calls;
    EXPECT_EQ(vec(g), (std::vector<double>{60, 60}));  // the total over both uses of h, after h's hook
    return Tensor();
  });
  (h * 2.0).sum().backward();
  EXPECT_EQ(seen, (std::vector<double>{2, 2}));
  EXPECT_EQ(leaf_calls, 1);
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{60, 60}));
  // A hook that returns the wrong shape is a clear error.
  Tensor y = x * 1.0;
  y.register_hook([](const Tensor&) { return zeros({3}, DType::f64); });
  EXPECT_NE(error_of([&] { y.sum().backward(); }).find("hook"), std::string::npos);
  EXPECT_THROW(zeros({2}).register_hook([](const Tensor& g) { return g; }), Error);
}

TEST(Engine, HookHandlesRemoveTheirHook) {
  Tensor x = from_vector<double>({1}).requires_grad_();
  int calls = 0;
  auto handle = x.register_hook([&](const Tensor&) {
    ++calls;
    return Tensor();
  });
  (x * 2.0).sum().backward();
  handle.remove();
  handle.remove();  // twice: nothing
  (x * 2.0).sum().backward();
  EXPECT_EQ(calls, 1);
}

TEST(Engine, PostAccumulateHookFiresOncePerPassWithTheFinalGrad) {
  Tensor w = from_vector<double>({1, 2}).requires_grad_();
  std::vector<std::vector<double>> seen;
  w.register_post_accumulate_grad_hook([&](const Tensor& p) { seen.push_back(vec(p.grad())); });
  // w is used three times: the hook sees the sum once.
  ((w * 1.0).sum() + (w * 2.0).sum() + (w * w).sum()).backward();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], (std::vector<double>{1 + 2 + 2, 1 + 2 + 4}));
  (w * 1.0).sum().backward();  // accumulates: the hook sees the running .grad
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], (std::vector<double>{6, 8}));
  Tensor nonleaf = w * 2.0;
  EXPECT_THROW(nonleaf.register_post_accumulate_grad_hook([](const Tensor&) {}), Error);
}

TEST(Engine, RetainGradKeepsANonLeafsGradient) {
  Tensor x = from_vector<double>({1, 2}).requires_grad_();
  Tensor h = x * x;
  EXPECT_FALSE(h.retains_grad());
  h.retain_grad();
  EXPECT_TRUE(h.retains_grad());
  Tensor loss = (h * 3.0).sum();
  loss.backward(Tensor(), true);
  EXPECT_EQ(vec(h.grad()), (std::vector<double>{3, 3}));
  loss.backward();
  EXPECT_EQ(vec(h.grad()), (std::vector<double>{6, 6}));  // accumulates, as a leaf's does
  Tensor u = x * 2.0;
  u.sum().backward();
  EXPECT_FALSE(u.grad().defined());  // not retained
}

TEST(Engine, GradReturnsGradientsWithoutTouchingDotGrad) {
  Tensor x = from_vector<double>({1, 2, 3}).requires_grad_();
  Tensor w = from_vector<double>({4, 5, 6}).requires_grad_();
  Tensor h = x * w;
  Tensor y = (h * h).sum();
  auto g = autograd::grad({y}, {x, h});
  EXPECT_EQ(vec(g[0]), (std::vector<double>{2 * 4 * 4 * 1, 2 * 5 * 5 * 2, 2 * 6 * 6 * 3}));
  EXPECT_EQ(vec(g[1]), (std::vector<double>{8, 20, 36}));
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
  // An input the outputs do not reach: an error, or undefined with allow_unused.
  Tensor z = from_vector<double>({1}).requires_grad_();
  Tensor y2 = (x * 2.0).sum();
  EXPECT_NE(error_of([&] { autograd::grad({y2}, {z}, {}, true); }).find("not reached"), std::string::npos);
  auto gu = autograd::grad({y2}, {x, z}, {}, std::nullopt, false, true);
  EXPECT_EQ(vec(gu[0]), (std::vector<double>{2, 2, 2}));
  EXPECT_FALSE(gu[1].defined());
  // Seeds for non-scalar outputs, and the same input twice.
  Tensor v = x * 3.0;
  auto gv = autograd::grad({v}, {x, x}, {from_vector<double>({1, 0, 2})});
  EXPECT_EQ(vec(gv[0]), (std::vector<double>{3, 0, 6}));
  EXPECT_EQ(vec(gv[1]), vec(gv[0]));
}

TEST(Engine, BackwardFromSeveralRootsSums) {
  Tensor x = from_vector<double>({1, 2}).requires_grad_();
  Tensor a = x * 2.0, b = x * x;
  autograd::backward({a.sum(), b}, {Tensor(), from_vector<double>({1, 1})});
  EXPECT_EQ(vec(x.grad()), (std::vector<double>{4, 6}));
}

TEST(Engine, CreateGraphGivesSecondDerivatives) {
  // f = sum(x^3 * w): df/dx = 3 x^2 w, d2f/dx2 v = 6 x w v, d(df/dx . v)/dw = 3 x^2 v.
  Tensor x = from_vector<double>({1, 2, 3}).requires_grad_();
  Tensor w = from_vector<double>({1, -1, 2}).requires_grad_();
  Tensor f = (x * x * x * w).sum();
  Tensor gx = autograd::grad({f}, {x}, {}, std::nullopt, true)[0];
  EXPECT_TRUE(gx.requires_grad());
  EXPECT_EQ(vec(gx), (std::vector<double>{3, -12, 54}));
  Tensor v = from_vector<double>({1, 1, 0.5});
  auto hv = autograd::grad({(gx * v).sum()}, {x, w});
  EXPECT_EQ(vec(hv[0]), (std::vector<double>{6, -12, 18}));
  EXPECT_EQ(vec(hv[1]), (std::vector<double>{3, 12, 13.5}));
  // backward(create_graph): .grad carries a graph; differentiating it again works.
  Tensor y = from_vector<double>({2}).requires_grad_();
  (y * y * y).sum().backward(Tensor(), std::nullopt, true);
  Tensor gy = y.grad();
  EXPECT_TRUE(gy.requires_grad());
  y.set_grad(Tensor());
  gy.sum().backward();
  EXPECT_EQ(vec(y.grad()), (std::vector<double>{12}));
}

TEST(Engine, SecondDerivativeThroughAFirstOrderOnlyBackwardIsRefused) {
  // leaky_relu's backward is a kernel: its gradient cannot be differentiated again.
  Tensor x = from_vector<double>({1, -2}).requires_grad_();
  Tensor gx = autograd::grad({leaky_relu(x * x, 0.1).sum()}, {x}, {}, std::nullopt, true)[0];
  std::string e = error_of([&] { autograd::grad({gx.sum()}, {x}); });
  EXPECT_NE(e.find("leaky_relu"), std::string::npos) << e;
  EXPECT_NE(e.find("not differentiable"), std::string::npos) << e;
}

TEST(Engine, DeepGraphIsFreedWithoutRecursion) {
  Tensor x = from_vector<float>({1}).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y * 1.0;
  y = Tensor();  // frees a 100,000-node chain; recursion would overflow the stack
  Tensor z = x;
  for (int i = 0; i < 20000; ++i) z = z + 0.0;
  z.sum().backward();  // and backward over one works too
  EXPECT_EQ(x.grad().item(), 1.0);
}

TEST(Engine, RecurrentLayerOutputsAreOutputsOfOneNode) {
  Tensor x = randn({3, 2, 8}, DType::f64).requires_grad_(), h0 = randn({2, 2}, DType::f64),
         c0 = randn({2, 2}, DType::f64), w = randn({8, 2}, DType::f64).requires_grad_();
  RecurrentResult r = recurrent_layer("lstm", x, h0, c0, w, Tensor());
  EXPECT_EQ(r.output.grad_fn(), r.h_n.grad_fn());
  EXPECT_EQ(r.h_n.grad_fn(), r.c_n.grad_fn());
  EXPECT_EQ(r.c_n.output_nr(), 2u);
  // Only h_n used: output's and c_n's gradients arrive as zeros inside the one backward.
  r.h_n.sum().backward();
  EXPECT_TRUE(x.grad().defined() && w.grad().defined());
}
