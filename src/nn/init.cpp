#include "nabla/nn/init.h"

#include <cmath>

#include "nabla/autograd/grad_mode.h"
#include "nabla/tensor/factory.h"

namespace nabla::nn::init {

namespace {

// Writes `values` (f64, t's shape) into t without recording history.
void assign(Tensor& t, const Tensor& values) {
  NoGradGuard ng;
  t.copy_(values);
}

Generator& gen_or_default(Generator* g) { return g ? *g : default_generator(); }

}  // namespace

double calculate_gain(Nonlinearity nl, double param) {
  switch (nl.value) {
    case Nonlinearity::tanh: return 5.0 / 3.0;
    case Nonlinearity::relu: return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: return std::sqrt(2.0 / (1.0 + param * param));
    case Nonlinearity::selu: return 3.0 / 4.0;
    default: return 1.0;  // linear, identity, the convolutions, sigmoid
  }
}

std::pair<int64_t, int64_t> calculate_fans(const Tensor& t) {
  NABLA_CHECK(t.dim() >= 2, "init: fan in and fan out need a tensor with at least 2 dims, got {}",
              shape_str(t.sizes()));
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.sizes()[d];
  return {t.sizes()[1] * receptive, t.sizes()[0] * receptive};
}

void uniform_(Tensor t, double a, double b, Generator* gen) {
  assign(t, rand(t.sizes(), DType::f64, &gen_or_default(gen)) * (b - a) + a);
}

void normal_(Tensor t, double mean, double std, Generator* gen) {
  assign(t, randn(t.sizes(), DType::f64, &gen_or_default(gen)) * std + mean);
}

void constant_(Tensor t, double value) {
  NoGradGuard ng;
  t.fill_(value);
}
void zeros_(Tensor t) { constant_(t, 0.0); }
void ones_(Tensor t) { constant_(t, 1.0); }

namespace {
double kaiming_std(const Tensor& t, double a, FanMode mode, Nonlinearity nl) {
  auto [fan_in, fan_out] = calculate_fans(t);
  int64_t fan = mode == FanMode::FanIn ? fan_in : fan_out;
  NABLA_CHECK(fan > 0, "kaiming init: tensor {} has zero fan", shape_str(t.sizes()));
  return calculate_gain(nl, a) / std::sqrt(static_cast<double>(fan));
}
}  // namespace

void kaiming_uniform_(Tensor t, double a, FanMode mode, Nonlinearity nl, Generator* gen) {
  double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nl);
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(Tensor t, double a, FanMode mode, Nonlinearity nl, Generator* gen) {
  normal_(t, 0.0, kaiming_std(t, a, mode, nl), gen);
}

void xavier_uniform_(Tensor t, double gain, Generator* gen) {
  auto [fi, fo] = calculate_fans(t);
  double bound = gain * std::sqrt(6.0 / static_cast<double>(fi + fo));
  uniform_(t, -bound, bound, gen);
}

void xavier_normal_(Tensor t, double gain, Generator* gen) {
  auto [fi, fo] = calculate_fans(t);
  normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fi + fo)), gen);
}

void orthogonal_(Tensor t, double gain, Generator* gen) {
  NABLA_CHECK(t.dim() >= 2, "orthogonal_: expected at least 2 dims, got {}", shape_str(t.sizes()));
  int64_t rows = t.sizes()[0], cols = t.numel() / rows;
  // Gram-Schmidt on the columns of a tall Gaussian matrix; the result's
  // columns are orthonormal, and the sign fix makes the distribution uniform.
  bool flip = rows < cols;
  int64_t m = flip ? cols : rows, n = flip ? rows : cols;
  std::vector<double> a = randn({m, n}, DType::f64, &gen_or_default(gen)).to_vector<double>();
  for (int64_t j = 0; j < n; ++j) {
    for (int pass = 0; pass < 2; ++pass)  // twice, for numerical orthogonality
      for (int64_t k = 0; k < j; ++k) {
        double dot = 0;
        for (int64_t i = 0; i < m; ++i) dot += a[i * n + j] * a[i * n + k];
        for (int64_t i = 0; i < m; ++i) a[i * n + j] -= dot * a[i * n + k];
      }
    double nrm = 0;
    for (int64_t i = 0; i < m; ++i) nrm += a[i * n + j] * a[i * n + j];
    nrm = std::sqrt(nrm);
    for (int64_t i = 0; i < m; ++i) a[i * n + j] /= nrm;
  }
  Tensor q = from_vector<double>(a, {m, n});
  if (flip) q = q.t();
  assign(t, (q * gain).reshape(t.sizes()));
}

void trunc_normal_(Tensor t, double mean, double std, double a, double b, Generator* gen) {
  NABLA_CHECK(a < b, "trunc_normal_: empty interval [{}, {}]", a, b);
  Generator& g = gen_or_default(gen);
  std::vector<double> v(t.numel());
  for (double& x : v) {
    for (int tries = 0;; ++tries) {
      x = mean + std * g.normal();
      if (x >= a && x <= b) break;
      NABLA_CHECK(tries < 10000, "trunc_normal_: interval [{}, {}] is too far from N({}, {})", a, b, mean, std);
    }
  }
  assign(t, from_vector<double>(v, t.sizes()));
}

}  // namespace nabla::nn::init
