// Sparse inference: the CSR kernel against the dense product, and CSR
// delegates that give the dense layer's outputs, follow weight changes and
// step aside for training and autograd.
#include <gtest/gtest.h>

#include "kernels/cpu/sparse_linear.h"
#include "nabla/compress/prune.h"
#include "nabla/compress/sparse.h"
#include "nabla/nabla.h"

using namespace nabla;

namespace {

// A random [rows, cols] weight with about `density` of its entries nonzero, row 1 all zero.
Tensor sparse_weight(int64_t rows, int64_t cols, double density, uint64_t seed) {
  Generator g(seed);
  Tensor keep = lt(rand({rows, cols}, DType::f32, &g), full({}, density, DType::f32)).to(DType::f32);
  Tensor w = randn({rows, cols}, DType::f32, &g) * keep;
  if (rows > 1) w.index_put_({1}, zeros({cols}));
  return w.contiguous();
}

}  // namespace

TEST(SparseLinear, CsrKernelEqualsTheDenseProduct) {
  for (int64_t M : {0, 1, 3, 8, 13}) {
    for (bool with_bias : {false, true}) {
      SCOPED_TRACE(fmt::format("M={} bias={}", M, with_bias));
      Tensor w = sparse_weight(37, 53, 0.2, 1 + M);
      Tensor x = randn({M, 53}), b = randn({37});
      kernels::CsrMatrix csr = kernels::csr_from_dense(w.const_data<float>(), 37, 53);
      EXPECT_EQ(csr.indptr[2] - csr.indptr[1], 0);  // the zero row
      EXPECT_EQ(csr.nnz(), sum(ne(w, zeros({}))).item<int64_t>());
      Tensor y = Tensor::empty({M, 37});
      kernels::csr_linear(csr, x.const_data<float>(), with_bias ? b.const_data<float>() : nullptr,
                          y.mutable_data<float>(), M);
      EXPECT_TRUE(allclose(y, linear(x, w, with_bias ? b : Tensor()), 1e-5, 1e-5));
    }
  }
}

TEST(SparseLinear, DelegatesGiveTheDenseOutputsAndStepAsideForTraining) {
  manual_seed(0);
  auto net = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(40, 30), std::make_shared<nn::ReLU>(),
                                              std::make_shared<nn::Linear>(30, 10));
  prune::magnitude(*net, 0.9);
  prune::remove_all(*net);
  auto& fc0 = dynamic_cast<nn::Linear&>(*(*net)[0]);
  {
    NoGradGuard ng;
    dynamic_cast<nn::Linear&>(*(*net)[2]).weight.copy_(randn({10, 30}));  // dense again: left alone
  }
  net->eval();
  Tensor x = randn({5, 40});
  Tensor dense = (*net)(x).detach();
  auto keys = net->state_dict();
  compress::SparsifyOptions o;
  o.measure = false;
  auto layers = compress::sparsify(*net, o);
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_TRUE(layers[0].sparse);
  EXPECT_NEAR(layers[0].sparsity, 0.9, 1e-3);
  EXPECT_FALSE(layers[1].sparse);
  EXPECT_TRUE(fc0.delegate());
  {
    NoGradGuard ng;
    EXPECT_TRUE(allclose((*net)(x), dense, 1e-5, 1e-5));
    EXPECT_TRUE(allclose((*net)(x.unsqueeze(0)).squeeze(0), dense, 1e-5, 1e-5));  // leading dims
    // A changed weight is seen at the next call.
    fc0.weight.mul_(2.0);
    Tensor want = linear(x, fc0.weight, fc0.bias);
    EXPECT_TRUE(allclose(fc0(x), want, 1e-5, 1e-5));
    fc0.weight.mul_(0.5);
  }
  // With autograd on, the dense layer runs and the gradient reaches the weight.
  sum((*net)(x)).backward();
  EXPECT_TRUE(fc0.weight.grad().defined());
  EXPECT_EQ(net->state_dict().size(), keys.size());  // the state_dict is unchanged
  EXPECT_THROW((*net)(randn({2, 41})), Error);        // the dense layer's error for a wrong input
  EXPECT_EQ(compress::densify(*net), 1);
  EXPECT_FALSE(fc0.delegate());
}
