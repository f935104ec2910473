#include "nabla/train/ntk.h"

#include <cmath>

#include "nabla/autograd/grad.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/linalg/linalg.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/reduce.h"
#include "nabla/ops/shape.h"
#include "nabla/tensor/factory.h"

namespace nabla::train {

namespace {

// Rows d f(x_i)/dp, all parameters flattened and concatenated: [N, P].
Tensor jacobian_rows(nn::Module& model, const Tensor& x, int64_t output, const std::vector<Tensor>& params) {
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < x.size(0); ++i) {
    Tensor y = model.forward(x.slice(0, i, i + 1));
    NABLA_CHECK(y.dim() >= 1 && y.size(0) == 1, "empirical_ntk: expected the model to map [1, ...] to [1, ...], got {}",
                shape_str(y.sizes()));
    y = y.reshape({-1});
    NABLA_CHECK(output >= 0 && output < y.size(0), "empirical_ntk: output {} of a model with {} outputs", output,
                y.size(0));
    std::vector<Tensor> g = autograd::grad({y.slice(0, output, output + 1).sum()}, params, {}, std::nullopt, false, true);
    std::vector<Tensor> flat;
    for (size_t k = 0; k < g.size(); ++k)
      flat.push_back(g[k].defined() ? g[k].reshape({-1}) : zeros({params[k].numel()}, params[k].dtype()));
    rows.push_back(cat(flat, 0).unsqueeze(0));
  }
  return cat(rows, 0);
}

}  // namespace

Tensor empirical_ntk(nn::Module& model, const Tensor& x1, const Tensor& x2, int64_t output) {
  NABLA_CHECK(x1.dim() >= 1 && (!x2.defined() || x2.dim() >= 1), "empirical_ntk: expected batches of inputs");
  std::vector<Tensor> params;
  for (const Tensor& p : model.parameters())
    if (p.requires_grad()) params.push_back(p);
  NABLA_CHECK(!params.empty(), "empirical_ntk: the model has no trainable parameters");
  Tensor J1 = jacobian_rows(model, x1, output, params);
  Tensor J2 = x2.defined() ? jacobian_rows(model, x2, output, params) : J1;
  NoGradGuard ng;
  return matmul(J1, J2.t());
}

MlpKernels relu_mlp_kernels(const Tensor& x1_, const Tensor& x2_, int64_t depth, double sigma_w2, double sigma_b2) {
  NABLA_CHECK(x1_.dim() == 2 && x2_.dim() == 2 && x1_.size(1) == x2_.size(1),
              "relu_mlp_kernels: expected inputs [N1, d] and [N2, d], got {} and {}", shape_str(x1_.sizes()),
              shape_str(x2_.sizes()));
  NABLA_CHECK(depth >= 0 && sigma_w2 > 0 && sigma_b2 >= 0,
              "relu_mlp_kernels: expected depth >= 0, sigma_w2 > 0, sigma_b2 >= 0, got {}, {}, {}", depth, sigma_w2,
              sigma_b2);
  NoGradGuard ng;
  Tensor x1 = x1_.to(DType::f64), x2 = x2_.to(DType::f64);
  const double d = double(x1.size(1));
  // The covariances of the first pre-activation: across the pairs, and each point's own.
  Tensor s12 = matmul(x1, x2.t()) * (sigma_w2 / d) + sigma_b2;
  Tensor s11 = sum(square(x1), {1}) * (sigma_w2 / d) + sigma_b2;
  Tensor s22 = sum(square(x2), {1}) * (sigma_w2 / d) + sigma_b2;
  Tensor theta = s12;
  for (int64_t l = 0; l < depth; ++l) {
    // E[relu(u) relu(v)] = sqrt(s11 s22) (sin t + (pi - t) cos t) / (2 pi) and E[relu'(u) relu'(v)] = (pi - t) / (2 pi),
    // t the angle between u and v.
    Tensor norms = sqrt(s11.unsqueeze(1) * s22.unsqueeze(0));
    Tensor c = clamp(s12 / clamp(norms, 1e-300, std::nullopt), -1.0, 1.0);
    Tensor t = acos(c);
    Tensor e_phi = norms * (sin(t) + (M_PI - t) * c) / (2 * M_PI);
    Tensor e_dphi = (M_PI - t) / (2 * M_PI);
    s12 = e_phi * sigma_w2 + sigma_b2;
    theta = s12 + theta * e_dphi * sigma_w2;
    s11 = s11 * (sigma_w2 / 2) + sigma_b2;  // E[relu(u)^2] = s / 2
    s22 = s22 * (sigma_w2 / 2) + sigma_b2;
  }
  return {s12, theta};
}

Tensor kernel_ridge(const Tensor& K_train, const Tensor& Y, const Tensor& K_test, double alpha) {
  NABLA_CHECK(K_train.dim() == 2 && K_train.size(0) == K_train.size(1), "kernel_ridge: K_train must be square, got {}",
              shape_str(K_train.sizes()));
  NABLA_CHECK(K_test.dim() == 2 && K_test.size(1) == K_train.size(0) && Y.size(0) == K_train.size(0),
              "kernel_ridge: K_test {} and targets {} do not fit K_train {}", shape_str(K_test.sizes()),
              shape_str(Y.sizes()), shape_str(K_train.sizes()));
  NABLA_CHECK(alpha >= 0, "kernel_ridge: alpha must be >= 0, got {}", alpha);
  NoGradGuard ng;
  const int64_t N = K_train.size(0);
  Tensor A = K_train.to(DType::f64) + eye(N, N, DType::f64) * alpha;
  return matmul(K_test.to(DType::f64), linalg::solve(A, Y.to(DType::f64)));
}

NtkMlp::NtkMlp(int64_t in_features, int64_t width, int64_t depth, int64_t outputs, double sigma_w2, double sigma_b2)
    : sigma_w(std::sqrt(sigma_w2)), sigma_b(std::sqrt(sigma_b2)) {
  NABLA_CHECK(in_features >= 1 && width >= 1 && depth >= 0 && outputs >= 1,
              "NtkMlp: expected positive sizes, got in {}, width {}, depth {}, outputs {}", in_features, width, depth,
              outputs);
  int64_t in = in_features;
  for (int64_t l = 0; l <= depth; ++l) {
    const int64_t out = l == depth ? outputs : width;
    auto lin = register_module(std::to_string(l), std::make_shared<nn::Linear>(in, out));
    NoGradGuard ng;
    lin->weight.copy_(randn(lin->weight.sizes()));
    lin->bias.copy_(randn(lin->bias.sizes()));
    layers.push_back(lin);
    in = out;
  }
}

Tensor NtkMlp::forward(const Tensor& x) {
  Tensor h = x.reshape({x.size(0), -1});
  for (size_t l = 0; l < layers.size(); ++l) {
    const nn::Linear& lin = *layers[l];
    Tensor a = l == 0 ? h : relu(h);
    h = matmul(a, lin.weight.t()) * (sigma_w / std::sqrt(double(lin.in_features))) + lin.bias * sigma_b;
  }
  return h;
}

}  // namespace nabla::train
