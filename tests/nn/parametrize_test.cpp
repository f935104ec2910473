// Parametrizations, weight norm and pruning: names, removal, chaining, training.
#include <gtest/gtest.h>

#include "nabla/nabla.h"
#include "support/error_of.h"

using namespace nabla;
using nabla::testing::error_of;

namespace {

// Symmetric matrices from an unconstrained one: X.triu() + X.triu(1)^T (PyTorch's tutorial example).
class Symmetric : public nn::Parametrization {
 public:
  Tensor forward(const Tensor& x) override {
    Tensor upper = x * triu_mask(x), strict = x * triu_mask(x, 1);
    return upper + strict.t();
  }
  std::string type_name() const override { return "Symmetric"; }
  static Tensor triu_mask(const Tensor& x, int64_t k = 0) {
    std::vector<double> m;
    for (int64_t i = 0; i < x.size(0); ++i)
      for (int64_t j = 0; j < x.size(1); ++j) m.push_back(j - i >= k ? 1.0 : 0.0);
    return from_vector<double>(m).reshape(x.sizes()).to(x.dtype());
  }
};

class Double : public nn::Parametrization {
 public:
  Tensor forward(const Tensor& x) override { return x * 2.0; }
  std::string type_name() const override { return "Double"; }
};

std::vector<std::string> keys(const nn::Module& m) {
  std::vector<std::string> k;
  for (const auto& [n, t] : m.state_dict()) k.push_back(n);
  return k;
}

}  // namespace

TEST(Parametrize, CustomParametrizationComputesAtEachCallAndTrainsTheOriginal) {
  nn::Linear lin(3, 3);
  nn::register_parametrization(lin, "weight", std::make_shared<Symmetric>());
  EXPECT_TRUE(nn::is_parametrized(lin, "weight"));
  EXPECT_EQ(keys(lin), (std::vector<std::string>{"bias", "parametrizations.weight.original"}));
  EXPECT_TRUE(allclose(lin.weight, lin.weight.t()));
  optim::SGD opt(lin.parameters(), 0.1);
  ASSERT_EQ(lin.parameters().size(), 2u);
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    lin(randn({4, 3})).pow(2.0).sum().backward();
    opt.step();
  }
  lin(randn({1, 3}));
  EXPECT_TRUE(allclose(lin.weight, lin.weight.t()));  // still symmetric after training the original
  // A second parametrization chains after the first.
  nn::register_parametrization(lin, "weight", std::make_shared<Double>());
  Tensor orig = lin.get_parameter("parametrizations.weight.original");
  lin(randn({1, 3}));
  EXPECT_TRUE(allclose(lin.weight, Symmetric().forward(orig) * 2.0));
  // Removing bakes the value in (or restores the original).
  Tensor value = lin.weight.detach().clone();
  nn::remove_parametrizations(lin, "weight");
  EXPECT_FALSE(nn::is_parametrized(lin));
  EXPECT_EQ(keys(lin), (std::vector<std::string>{"bias", "weight"}));
  EXPECT_TRUE(allclose(lin.weight, value));
  EXPECT_TRUE(lin.weight.is_leaf() && lin.weight.requires_grad());
  EXPECT_NE(error_of([&] { nn::remove_parametrizations(lin, "weight"); }).find("not parametrized"),
            std::string::npos);
  EXPECT_NE(error_of([&] { nn::register_parametrization(lin, "weights", std::make_shared<Double>()); })
                .find("weights"),
            std::string::npos);
}

TEST(Parametrize, FunctionalCallSubstitutesTheOriginal) {
  nn::Linear lin(2, 2, false);
  nn::register_parametrization(lin, "weight", std::make_shared<Double>());
  Tensor w = eye(2);
  Tensor x = from_vector<float>({1, 2}).reshape({1, 2});
  Tensor y = nn::functional_call(lin, {{"parametrizations.weight.original", w}}, x);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{2, 4}));
}

TEST(SpectralNorm, LargestSingularValueBecomesOne) {
  manual_seed(1);
  nn::Linear lin(6, 4);
  nn::spectral_norm(lin);
  lin.train();
  for (int i = 0; i < 30; ++i) lin(randn({2, 6}));  // power iterations converge
  // ||W v|| <= 1 for unit v, and close to 1 along the top singular vector: check through W^T W's top eigenvalue.
  NoGradGuard ng;
  Tensor w = lin.weight.detach();
  Tensor v = randn({6});
  for (int i = 0; i < 200; ++i) v = matmul(w.t(), matmul(w, v)) / norm(matmul(w.t(), matmul(w, v)));
  EXPECT_NEAR(norm(matmul(w, v)).item(), 1.0, 1e-3);
  EXPECT_EQ(keys(lin), (std::vector<std::string>{"bias", "parametrizations.weight.0._u",
                                                 "parametrizations.weight.0._v", "parametrizations.weight.original"}));
}

TEST(WeightNorm, NamesAndRemoval) {
  nn::Linear lin(3, 2);
  Tensor before = lin.weight.detach().clone();
  nn::weight_norm(lin);
  EXPECT_EQ(keys(lin), (std::vector<std::string>{"bias", "weight_g", "weight_v"}));
  EXPECT_EQ(lin.get_parameter("weight_g").sizes(), (Shape{2, 1}));
  EXPECT_TRUE(allclose(lin.weight, before, 1e-5, 1e-6));
  EXPECT_NE(error_of([&] { nn::weight_norm(lin); }).find("already"), std::string::npos);
  nn::remove_weight_norm(lin);
  EXPECT_EQ(keys(lin), (std::vector<std::string>{"bias", "weight"}));
  EXPECT_TRUE(allclose(lin.weight, before, 1e-5, 1e-6));
}

TEST(Prune, MasksMultiplyTheOriginalIsTheSameTensorAndRemoveBakes) {
  nn::Linear lin(4, 3);
  Tensor w = lin.weight;
  optim::Adam opt(lin.parameters(), 1e-2);
  nn::prune::l1_unstructured(lin, "weight", 0.5);
  EXPECT_TRUE(nn::prune::is_pruned(lin));
  EXPECT_EQ(keys(lin), (std::vector<std::string>{"bias", "weight_mask", "weight_orig"}));
  EXPECT_EQ(lin.get_parameter("weight_orig").impl_ptr(), w.impl_ptr());  // optimizer state carries over
  EXPECT_EQ(lin.get_buffer("weight_mask").sum().item(), 6.0);
  // The pruned entries get no gradient through the mask; training keeps them at zero in the computed weight.
  lin(randn({2, 4})).sum().backward();
  opt.step();
  lin(randn({1, 4}));
  Tensor mask = lin.get_buffer("weight_mask");
  EXPECT_EQ((lin.weight.detach() * (1.0 - mask)).abs().sum().item(), 0.0);
  // Pruning again: 50 % of what is left, masks multiply.
  nn::prune::l1_unstructured(lin, "weight", 0.5);
  EXPECT_EQ(lin.get_buffer("weight_mask").sum().item(), 6.0);  // round(0.5 * 12) of the current weight = 6 zeros
  nn::prune::custom_from_mask(lin, "weight", zeros({3, 4}));
  EXPECT_EQ(lin.get_buffer("weight_mask").sum().item(), 0.0);
  nn::prune::remove(lin, "weight");
  EXPECT_FALSE(nn::prune::is_pruned(lin));
  EXPECT_EQ(keys(lin), (std::vector<std::string>{"bias", "weight"}));
  EXPECT_EQ(lin.weight.abs().sum().item(), 0.0);
  EXPECT_THROW(nn::prune::l1_unstructured(lin, "weight", 1.5), Error);
}

TEST(ModuleTo, ConvertsKeepingTiesAndGradFlags) {
  nn::BatchNorm2d bn(3);
  bn.to(DType::f64);
  EXPECT_EQ(bn.weight.dtype(), DType::f64);
  EXPECT_TRUE(bn.weight.requires_grad());
  EXPECT_EQ(bn.running_mean.dtype(), DType::f64);
  EXPECT_EQ(bn.num_batches_tracked.dtype(), DType::i64);
  EXPECT_EQ(bn.state_dict().at("running_var").dtype(), DType::f64);
  EXPECT_EQ(bn(randn({2, 3, 2, 2}, DType::f64)).dtype(), DType::f64);
  EXPECT_THROW(bn.to(DType::i64), Error);
}
