#pragma once
// Neural tangent kernels: the empirical NTK of any network (the Gram matrix of
// its parameter Jacobians, through autograd), the closed-form NNGP and NTK of
// deep ReLU MLPs (the arc-cosine recursions of Cho & Saul 2009, Jacot et al. 2018,
// Lee et al. 2019), a network in NTK parametrization whose empirical NTK
// converges to the closed form as it widens, and kernel ridge regression.
// dtypes: f32 and f64 (f64 for comparisons).
#include "nabla/nn/layers.h"
#include "nabla/nn/module.h"

namespace nabla::train {

/// Theta[i, j] = sum over the model's parameters p of d f(x1_i)/dp . d f(x2_j)/dp,
/// f(x) = model(x)[output] (one output unit of an [N, K] or [N] result). One backward per
/// example; memory: the Jacobian rows, (N1 + N2) x parameters. x2 undefined: x1 against itself.
Tensor empirical_ntk(nn::Module& model, const Tensor& x1, const Tensor& x2 = Tensor(), int64_t output = 0);

/// The infinite-width kernels of an MLP with `depth` hidden ReLU layers in NTK parametrization
/// (h1 = sigma_w / sqrt(d) W1 x + sigma_b b1, h(l+1) = sigma_w / sqrt(n) W relu(h(l)) + sigma_b b;
/// W, b ~ N(0, 1)), between the rows of x1 [N1, d] and x2 [N2, d] (f64 results).
struct MlpKernels {
  Tensor nngp;  ///< the output's covariance at initialization (the Gaussian process prior)
  Tensor ntk;   ///< the neural tangent kernel (all weights and biases trained)
};
MlpKernels relu_mlp_kernels(const Tensor& x1, const Tensor& x2, int64_t depth, double sigma_w2 = 2.0,
                            double sigma_b2 = 0.0);

/// Predictions K_test (K_train + alpha I)^{-1} Y of kernel ridge regression (targets Y [N] or [N, T]).
Tensor kernel_ridge(const Tensor& K_train, const Tensor& Y, const Tensor& K_test, double alpha);

/// The MLP of relu_mlp_kernels: `depth` hidden layers of `width`, one Linear read-out of `outputs`,
/// weights and biases N(0, 1), scaled in forward by sigma_w / sqrt(fan_in) and sigma_b.
class NtkMlp : public nn::Module {
 public:
  NtkMlp(int64_t in_features, int64_t width, int64_t depth, int64_t outputs = 1, double sigma_w2 = 2.0,
         double sigma_b2 = 0.0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "NtkMlp"; }
  std::vector<std::shared_ptr<nn::Linear>> layers;
  double sigma_w, sigma_b;
};

}  // namespace nabla::train
