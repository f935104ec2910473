// Custom ops through autograd::Function: forward and backward given by the user,
// checked against the plain composition and finite differences.
#include <gtest/gtest.h>

#include "nabla/nabla.h"
#include "support/error_of.h"
#include "support/gradcheck.h"

using namespace nabla;
using nabla::testing::error_of;

namespace {

// x * y * alpha, with a hand-written backward.
struct ScaledProduct : autograd::Function<ScaledProduct> {
  static constexpr const char* name = "scaled_product";
  static Tensor forward(autograd::FunctionContext& ctx, const Tensor& x, const Tensor& y, double alpha) {
    ctx.save_for_backward({x, y});
    ctx.saved_data["alpha"] = alpha;
    EXPECT_FALSE(grad_enabled());  // forward runs without recording
    return x * y * alpha;
  }
  static std::vector<Tensor> backward(autograd::FunctionContext& ctx, const std::vector<Tensor>& g) {
    const double alpha = std::any_cast<double>(ctx.saved_data.at("alpha"));
    const Tensor &x = ctx.saved()[0], &y = ctx.saved()[1];
    // y broadcasts against x: its gradient sums over the broadcast dims.
    return {ctx.needs_input_grad(0) ? sum_to(g[0] * y * alpha, x.sizes()) : Tensor(),
            ctx.needs_input_grad(1) ? sum_to(g[0] * x * alpha, y.sizes()) : Tensor()};
  }
};

// Two outputs (sum and difference) from one node.
struct SumDiff : autograd::Function<SumDiff> {
  static std::vector<Tensor> forward(autograd::FunctionContext&, const Tensor& a, const Tensor& b) {
    return {a + b, a - b};
  }
  static std::vector<Tensor> backward(autograd::FunctionContext&, const std::vector<Tensor>& g) {
    Tensor gs = g[0].defined() ? g[0] : zeros_like(g[1]);
    Tensor gd = g[1].defined() ? g[1] : zeros_like(g[0]);
    return {gs + gd, gs - gd};
  }
};

// Square with a backward built from recorded ops: declared differentiable.
struct Square : autograd::Function<Square> {
  static constexpr const char* name = "square";
  static Tensor forward(autograd::FunctionContext& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    ctx.set_backward_differentiable();
    return x * x;
  }
  static std::vector<Tensor> backward(autograd::FunctionContext& ctx, const std::vector<Tensor>& g) {
    return {g[0] * ctx.saved()[0] * 2.0};
  }
};

// The same without the declaration: a second derivative is refused.
struct SquareOnce : autograd::Function<SquareOnce> {
  static constexpr const char* name = "square_once";
  static Tensor forward(autograd::FunctionContext& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return x * x;
  }
  static std::vector<Tensor> backward(autograd::FunctionContext& ctx, const std::vector<Tensor>& g) {
    return {g[0] * ctx.saved()[0] * 2.0};
  }
};

// A "fused" cube with a raw-memory backward and its composition: first
// derivatives come from backward(), higher ones from the composition.
int g_cube_backward_calls = 0;
struct FusedCube : autograd::Function<FusedCube> {
  static constexpr const char* name = "fused_cube";
  static std::vector<Tensor> forward(autograd::FunctionContext& ctx, const Tensor& x) {
    Tensor y = (x * x * x).contiguous(), sq = (x * x).contiguous();
    ctx.save_for_backward({sq, y});  // y is an output: saved as a detached alias
    return {y, sq};
  }
  static std::vector<Tensor> backward(autograd::FunctionContext& ctx, const std::vector<Tensor>& g) {
    ++g_cube_backward_calls;
    Tensor sq = ctx.saved()[0];
    Tensor dx = Tensor::empty(sq.sizes(), DType::f64);
    const double *s = sq.const_data<double>(), *x3 = ctx.saved()[1].const_data<double>();
    Tensor g0 = g[0].defined() ? g[0].contiguous() : zeros_like(sq), g1 = g[1].defined() ? g[1].contiguous() : zeros_like(sq);
    const double *a = g0.const_data<double>(), *b = g1.const_data<double>();
    for (int64_t i = 0; i < sq.numel(); ++i) {
      const double x = x3[i] == 0 ? 0 : x3[i] / s[i];
      dx.data<double>()[i] = a[i] * 3 * s[i] + b[i] * 2 * x;
    }
    return {dx};
  }
  static std::vector<Tensor> composite(const autograd::FunctionContext&, const std::vector<Tensor>& in) {
    return {in[0] * in[0] * in[0], in[0] * in[0]};
  }
};

struct WrongCount : autograd::Function<WrongCount> {
  static constexpr const char* name = "wrong_count";
  static Tensor forward(autograd::FunctionContext&, const Tensor& x) { return x * 2.0; }
  static std::vector<Tensor> backward(autograd::FunctionContext&, const std::vector<Tensor>& g) {
    return {g[0], g[0]};
  }
};

struct Identity : autograd::Function<Identity> {
  static Tensor forward(autograd::FunctionContext&, const Tensor& x) { return x; }
  static std::vector<Tensor> backward(autograd::FunctionContext&, const std::vector<Tensor>& g) { return {g[0]}; }
};

}  // namespace

TEST(CustomFunction, MatchesItsCompositionAndFiniteDifferences) {
  Tensor x = nabla::testing::rand_input({3, 4}), y = nabla::testing::rand_input({4});
  Tensor z = ScaledProduct::apply(x, y, 1.5);
  EXPECT_EQ(z.grad_fn()->name, "scaled_product");
  Tensor gout = randn({3, 4}, DType::f64);
  z.backward(gout);
  Tensor gx = x.grad(), gy = y.grad();
  x.set_grad(Tensor());
  y.set_grad(Tensor());
  (x * y * 1.5).backward(gout);
  EXPECT_TRUE(allclose(gx, x.grad()));
  EXPECT_TRUE(allclose(gy, y.grad()));
  auto r = nabla::testing::gradcheck([](const std::vector<Tensor>& i) { return ScaledProduct::apply(i[0], i[1], -0.5); },
                                     {nabla::testing::rand_input({2, 3}), nabla::testing::rand_input({2, 3})});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(CustomFunction, SeveralOutputsShareOneNode) {
  Tensor a = from_vector<double>({1, 2}).requires_grad_(), b = from_vector<double>({3, 5}).requires_grad_();
  auto outs = SumDiff::apply(a, b);
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[0].grad_fn(), outs[1].grad_fn());
  (outs[0] * 2.0 + outs[1] * 3.0).sum().backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{5, 5}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{-1, -1}));
  Tensor c = from_vector<double>({1}).requires_grad_();
  SumDiff::apply(c, c)[1].sum().backward();  // only the difference used: its sum's gradient arrives as zeros
  EXPECT_EQ(c.grad().to_vector<double>(), (std::vector<double>{0}));
}

TEST(CustomFunction, SecondDerivativeOnlyWhenDeclared) {
  Tensor x = from_vector<double>({1.5, -2}).requires_grad_();
  Tensor g = autograd::grad({Square::apply(x).sum()}, {x}, {}, std::nullopt, true)[0];
  Tensor h = autograd::grad({g.sum()}, {x})[0];
  EXPECT_EQ(h.to_vector<double>(), (std::vector<double>{2, 2}));
  Tensor g1 = autograd::grad({SquareOnce::apply(x).sum()}, {x}, {}, std::nullopt, true)[0];
  std::string e = error_of([&] { autograd::grad({g1.sum()}, {x}); });
  EXPECT_NE(e.find("square_once"), std::string::npos) << e;
}

TEST(CustomFunction, ACompositionGivesHigherDerivatives) {
  Tensor x = from_vector<double>({1.5, -2, 0.5}).requires_grad_();
  g_cube_backward_calls = 0;
  auto out = FusedCube::apply(x);
  Tensor loss = (out[0] + out[1] * 2.0).sum();  // x^3 + 2 x^2
  loss.backward(Tensor(), true);
  EXPECT_EQ(g_cube_backward_calls, 1);  // first derivatives: the fused backward
  EXPECT_TRUE(allclose(x.grad(), x * x * 3.0 + x * 4.0));
  Tensor g = autograd::grad({loss}, {x}, {}, std::nullopt, true)[0];
  EXPECT_EQ(g_cube_backward_calls, 1);  // create_graph: the composition instead
  Tensor h = autograd::grad({g.sum()}, {x}, {}, std::nullopt, true)[0];
  EXPECT_TRUE(allclose(h, x * 6.0 + 4.0));
  Tensor t = autograd::grad({h.sum()}, {x})[0];  // third order
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{6, 6, 6}));
  auto r = nabla::testing::gradgradcheck([](const std::vector<Tensor>& i) { return FusedCube::apply(i[0])[0]; },
                                         {nabla::testing::rand_input({2, 3})});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(CustomFunction, ErrorsAreClear) {
  Tensor x = from_vector<double>({1}).requires_grad_();
  std::string e = error_of([&] { WrongCount::apply(x).sum().backward(); });
  EXPECT_NE(e.find("wrong_count: backward returned 2 gradients for 1 tensor inputs"), std::string::npos) << e;
  // A saved input changed in place before backward.
  Tensor y = from_vector<double>({2, 3}).requires_grad_();
  Tensor w = from_vector<double>({1, 1});
  Tensor z = ScaledProduct::apply(y, w, 1.0);
  w.add_(1.0);
  EXPECT_NE(error_of([&] { z.sum().backward(); }).find("modified by an in-place operation"), std::string::npos);
}

TEST(CustomFunction, AnOutputThatIsItsInputGetsItsOwnHistory) {
  Tensor x = from_vector<double>({4}).requires_grad_();
  Tensor y = Identity::apply(x);
  EXPECT_TRUE(x.is_leaf());  // x itself was not given y's node
  EXPECT_FALSE(y.is_leaf());
  EXPECT_EQ(y.storage(), x.storage());
  (y * 3.0).sum().backward();
  EXPECT_EQ(x.grad().item(), 3.0);
  // Without grad nothing is recorded.
  NoGradGuard ng;
  EXPECT_TRUE(ScaledProduct::apply(x, x, 2.0).is_leaf());
}
