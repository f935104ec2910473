// Tensors with a dimension of size 0 are valid input to every op family,
// forward and backward, with PyTorch's result shapes and values.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "nabla/nabla.h"
#include "support/error_of.h"

namespace {

using namespace nabla;
using nabla::testing::error_of;

struct EmptyCase {
  const char* name;
  Shape input;
  std::function<Tensor(const Tensor&)> f;
  Shape want;
};

std::vector<EmptyCase> cases() {
  auto w = [](Shape s) { return randn(s); };
  return {
      {"relu", {0, 3}, [](const Tensor& x) { return relu(x); }, {0, 3}},
      {"sigmoid", {0, 3}, [](const Tensor& x) { return sigmoid(x); }, {0, 3}},
      {"gelu", {3, 0}, [](const Tensor& x) { return gelu(x); }, {3, 0}},
      {"add_broadcast", {0, 3}, [](const Tensor& x) { return add(x, ones({1, 3})); }, {0, 3}},
      {"mul_scalar", {0}, [](const Tensor& x) { return mul(x, 2.0); }, {0}},
      {"div", {2, 0}, [](const Tensor& x) { return div(x, add(x, 1.0)); }, {2, 0}},
      {"pow", {0, 2}, [](const Tensor& x) { return pow(x, 2.0); }, {0, 2}},
      {"sum_dim0", {0, 3}, [](const Tensor& x) { return sum(x, {0}); }, {3}},
      {"sum_dim1", {0, 3}, [](const Tensor& x) { return sum(x, {1}); }, {0}},
      {"mean_dim1", {0, 3}, [](const Tensor& x) { return mean(x, {1}); }, {0}},
      {"var_dim1", {0, 3}, [](const Tensor& x) { return var(x, {1}); }, {0}},
      {"amax_dim1", {0, 3}, [](const Tensor& x) { return amax(x, {1}); }, {0}},
      {"logsumexp_dim1", {0, 3}, [](const Tensor& x) { return logsumexp(x, {1}); }, {0}},
      {"softmax", {0, 5}, [](const Tensor& x) { return softmax(x, 1); }, {0, 5}},
      {"log_softmax", {0, 5}, [](const Tensor& x) { return log_softmax(x, 1); }, {0, 5}},
      {"softmax_empty_dim", {4, 0}, [](const Tensor& x) { return softmax(x, 1); }, {4, 0}},
      {"cumsum", {0, 3}, [](const Tensor& x) { return cumsum(x, 0); }, {0, 3}},
      {"matmul_rows", {0, 3}, [w](const Tensor& x) { return matmul(x, w({3, 4})); }, {0, 4}},
      {"mm_inner", {2, 0}, [w](const Tensor& x) { return mm(x, w({0, 4})); }, {2, 4}},
      {"linear", {0, 3}, [w](const Tensor& x) { return linear(x, w({5, 3}), w({5})); }, {0, 5}},
      {"cat", {0, 3}, [](const Tensor& x) { return cat({x, x}, 0); }, {0, 3}},
      {"stack", {0, 3}, [](const Tensor& x) { return stack({x, x}, 1); }, {0, 2, 3}},
      {"pad", {0, 3}, [](const Tensor& x) { return pad(x, {1, 1}); }, {0, 5}},
      {"transpose_contiguous", {0, 3}, [](const Tensor& x) { return x.transpose(0, 1).contiguous(); }, {3, 0}},
      {"reshape", {0, 3}, [](const Tensor& x) { return x.reshape({3, 0, 1}); }, {3, 0, 1}},
      {"index_select_empty_index", {4, 3},
       [](const Tensor& x) { return index_select(x, 0, Tensor::empty({0}, DType::i64)); }, {0, 3}},
      {"conv2d", {0, 3, 8, 8}, [w](const Tensor& x) { return conv2d(x, w({4, 3, 3, 3}), w({4}), 1, 1); },
       {0, 4, 8, 8}},
      {"max_pool2d", {0, 3, 8, 8}, [](const Tensor& x) { return max_pool2d(x, 2); }, {0, 3, 4, 4}},
      {"avg_pool2d", {0, 3, 8, 8}, [](const Tensor& x) { return avg_pool2d(x, 2); }, {0, 3, 4, 4}},
      {"adaptive_avg_pool2d", {0, 3, 8, 8}, [](const Tensor& x) { return adaptive_avg_pool2d(x, {1, 1}); },
       {0, 3, 1, 1}},
      {"layer_norm", {0, 5}, [](const Tensor& x) { return layer_norm(x, {5}); }, {0, 5}},
      {"group_norm", {0, 4, 3}, [](const Tensor& x) { return group_norm(x, 2); }, {0, 4, 3}},
      {"batch_norm_eval", {0, 3, 2, 2},
       [](const Tensor& x) { return batch_norm(x, zeros({3}), ones({3}), Tensor(), Tensor(), false); },
       {0, 3, 2, 2}},
      {"interpolate", {0, 2, 4, 4}, [](const Tensor& x) { return interpolate(x, std::array<int64_t, 2>{8, 8}); },
       {0, 2, 8, 8}},
      {"kl_div_none", {0, 3},
       [](const Tensor& x) { return kl_div(x, zeros({0, 3}), Reduction::None); }, {0, 3}},
      {"mse_loss_none", {0, 3},
       [](const Tensor& x) { return mse_loss(x, zeros({0, 3}), Reduction::None); }, {0, 3}},
  };
}

class EmptyOp : public ::testing::TestWithParam<size_t> {};

TEST_P(EmptyOp, ForwardAndBackwardKeepPyTorchShapes) {
  const EmptyCase c = cases()[GetParam()];
  SCOPED_TRACE(c.name);
  Tensor x = randn(c.input).requires_grad_();
  Tensor y = c.f(x);
  EXPECT_EQ(y.sizes(), c.want);
  Tensor s = sum(y);
  EXPECT_EQ(s.item(), 0.0);  // the sum of nothing
  s.backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().sizes(), c.input);
}

INSTANTIATE_TEST_SUITE_P(Ops, EmptyOp, ::testing::Range<size_t>(0, cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& i) { return std::string(cases()[i.param].name); });

TEST(EmptyOp, ReductionsOverNothingFollowPyTorch) {
  Tensor x = Tensor::empty({0, 3});
  EXPECT_EQ(sum(x).item(), 0.0);
  Tensor s = sum(x, {0});
  ASSERT_EQ(s.sizes(), (Shape{3}));
  for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(s.select(0, i).item(), 0.0);
  EXPECT_TRUE(std::isnan(mean(x).item()));  // 0 / 0, as PyTorch
  // A max over an empty dim has no identity: an error, as in PyTorch.
  EXPECT_NE(error_of([&] { max(x); }), "");
  EXPECT_NE(error_of([&] { amax(x, {0}); }), "");
  EXPECT_NE(error_of([&] { argmax(x, 0); }), "");
  EXPECT_EQ(amax(x, {1}).sizes(), (Shape{0}));
}

TEST(EmptyOp, LossesOverAnEmptyBatch) {
  Tensor logits = randn({0, 10}).requires_grad_();
  Tensor target = Tensor::empty({0}, DType::i64);
  Tensor l = cross_entropy(logits, target);
  EXPECT_TRUE(std::isnan(l.item()));  // the mean over no samples, as PyTorch
  Tensor m = mse_loss(randn({0, 3}), zeros({0, 3}));
  EXPECT_TRUE(std::isnan(m.item()));
}

TEST(ZeroDim, OpsOnScalarsKeepZeroDims) {
  Tensor a = scalar_tensor(2.0).requires_grad_();
  Tensor y = mul(exp(a), a);
  EXPECT_EQ(y.dim(), 0);
  y.backward();
  EXPECT_NEAR(a.grad().item(), std::exp(2.0) * 3.0, 1e-4);
  EXPECT_EQ(sum(a, {0}).dim(), 0);
  EXPECT_EQ(softmax(a, 0).item(), 1.0);
}

TEST(Linspace, OneStepIsTheStart) {
  Tensor t = linspace(2.0, 5.0, 1);
  ASSERT_EQ(t.sizes(), (Shape{1}));
  EXPECT_EQ(t.item(), 2.0);
  EXPECT_EQ(linspace(0.0, 1.0, 0).numel(), 0);
  Tensor u = linspace(0.0, 1.0, 5);
  EXPECT_DOUBLE_EQ(u.select(0, 4).item(), 1.0);
  EXPECT_DOUBLE_EQ(u.select(0, 1).item(), 0.25);
}

}  // namespace
