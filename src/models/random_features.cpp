#include "nabla/models/random_features.h"

#include <algorithm>
#include <cmath>

#include "nabla/autograd/grad_mode.h"
#include "nabla/models/zoo.h"
#include "nabla/ops/activation.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/matmul.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"
#include "nabla/tensor/generator.h"

namespace nabla::models {

RandomFeatures::RandomFeatures(int64_t in_features, int64_t num_features, int64_t outputs, const std::string& kind,
                               double sigma, uint64_t seed)
    : kind(kind), sigma_given(sigma > 0) {
  NABLA_CHECK(kind == "relu" || kind == "fourier", "RandomFeatures: kind must be relu or fourier, got '{}'", kind);
  NABLA_CHECK(in_features >= 1 && num_features >= 1 && outputs >= 1 && sigma >= 0,
              "RandomFeatures: expected positive sizes and sigma >= 0, got in {}, features {}, outputs {}, sigma {}",
              in_features, num_features, outputs, sigma);
  Generator g(seed);
  register_buffer("weight", weight, randn({num_features, in_features}, DType::f32, &g));
  Tensor b = kind == "relu" ? randn({num_features}, DType::f32, &g) : rand({num_features}, DType::f32, &g) * (2 * M_PI);
  register_buffer("bias", bias, b);
  register_buffer("inv_sigma", inv_sigma, scalar_tensor(sigma > 0 ? 1.0 / sigma : 1.0));
  head = register_module("head", std::make_shared<nn::Linear>(num_features, outputs));
}

namespace {

Tensor flat_inputs(const Tensor& x, int64_t d) {
  NABLA_CHECK(x.dim() >= 1, "RandomFeatures: expected inputs [N, ...], got a 0-dim tensor");
  Tensor f = x.detach().reshape({x.size(0), -1});
  NABLA_CHECK(f.size(1) == d, "RandomFeatures: built for {} input values, got inputs {}", d, shape_str(x.sizes()));
  f = f.to(DType::f32);
  return masked_fill(f, ne(f, f), 0.0);
}

}  // namespace

Tensor RandomFeatures::transform(const Tensor& x) const {
  NoGradGuard ng;
  const int64_t d = weight.size(1);
  Tensor f = flat_inputs(x, d);
  if (kind == "relu") return relu(matmul(f, weight.t()) / std::sqrt(double(d)) + bias);
  return cos(matmul(f, weight.t()) * inv_sigma + bias) * std::sqrt(2.0 / double(weight.size(0)));
}

void RandomFeatures::fit(const Tensor& x) {
  if (kind != "fourier" || sigma_given) return;
  NoGradGuard ng;
  Tensor f = flat_inputs(x, weight.size(1)).to(DType::f64);
  const int64_t n = std::min<int64_t>(f.size(0), 1000);
  NABLA_CHECK(n >= 2, "RandomFeatures: the median heuristic needs at least 2 training inputs, got {}", f.size(0));
  f = f.slice(0, 0, n);
  // Squared distances |a|^2 + |b|^2 - 2 a.b between distinct pairs; their median's root is sigma.
  Tensor sq = sum(square(f), {1});
  Tensor d2 = clamp(sq.unsqueeze(1) + sq.unsqueeze(0) - 2.0 * matmul(f, f.t()), 0.0, std::nullopt);
  std::vector<double> all = d2.to_vector<double>(), off;
  off.reserve(n * (n - 1) / 2);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) off.push_back(all[i * n + j]);
  std::nth_element(off.begin(), off.begin() + off.size() / 2, off.end());
  const double sigma = std::sqrt(off[off.size() / 2]);
  inv_sigma.fill_(sigma > 0 ? 1.0 / sigma : 1.0);
}

std::string RandomFeatures::extra_repr() const {
  return fmt::format("kind={}, in_features={}, features={}, sigma={:.4g}", kind, weight.size(1), weight.size(0),
                     1.0 / inv_sigma.item());
}

namespace {

nn::ModulePtr random_features(const ModelConfig& cfg, const std::string& kind) {
  NABLA_CHECK(!cfg.input_shape.empty(), "{}: input shape is empty", kind == "relu" ? "elm" : "rff");
  return std::make_shared<RandomFeatures>(shape_numel(cfg.input_shape), cfg.kernels > 0 ? cfg.kernels : 2000,
                                          cfg.num_classes, kind, 0.0, cfg.kernel_seed);
}

}  // namespace

nn::ModulePtr elm(const ModelConfig& cfg) { return random_features(cfg, "relu"); }
nn::ModulePtr rff(const ModelConfig& cfg) { return random_features(cfg, "fourier"); }

}  // namespace nabla::models
