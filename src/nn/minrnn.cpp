#include "nabla/nn/minrnn.h"

#include <limits>

#include "nabla/ops/activation.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"
#include "nabla/ops/scan.h"
#include "nabla/ops/shape.h"
#include "nabla/tensor/factory.h"

namespace nabla::nn {

Tensor log_space_scan(const Tensor& log_a, const Tensor& log_b, const Tensor& log_h0) {
  NABLA_CHECK(log_a.dim() == 3 && log_a.sizes() == log_b.sizes(),
              "log_space_scan: log a and log b must be [B, T, H] of one shape, got {} and {}",
              shape_str(log_a.sizes()), shape_str(log_b.sizes()));
  NABLA_CHECK(log_h0.dim() == 2 && log_h0.size(0) == log_a.size(0) && log_h0.size(1) == log_a.size(2),
              "log_space_scan: log h0 must be [{}, {}], got {}", log_a.size(0), log_a.size(2),
              shape_str(log_h0.sizes()));
  // h_t = A_t (h_0 + sum_{s<=t} b_s / A_s) with A_t = a_1 ... a_t, in logs.
  Tensor a_star = cumsum(log_a, 1);
  Tensor inner = logcumsumexp(cat({log_h0.unsqueeze(1), sub(log_b, a_star)}, 1), 1);
  return exp(add(a_star, inner.narrow(1, 1, log_a.size(1))));
}

Tensor sequential_scan(const Tensor& a, const Tensor& b, const Tensor& h0) {
  NABLA_CHECK(a.dim() == 3 && a.sizes() == b.sizes(), "sequential_scan: a and b must be [B, T, H], got {} and {}",
              shape_str(a.sizes()), shape_str(b.sizes()));
  std::vector<Tensor> hs;
  Tensor h = h0;
  for (int64_t t = 0; t < a.size(1); ++t) {
    h = add(mul(a.select(1, t), h), b.select(1, t));
    hs.push_back(h);
  }
  return stack(hs, 1);
}

namespace {

// g(x) = x + 0.5 for x >= 0, sigmoid(x) below: positive, continuous, linear growth.
Tensor g_of(const Tensor& x) { return where(ge(x, zeros({}, x.dtype())), add(x, 0.5), sigmoid(x)); }
Tensor log_g(const Tensor& x) {
  return where(ge(x, zeros({}, x.dtype())), log(add(relu(x), 0.5)), neg(softplus(neg(x))));
}

}  // namespace

MinRNNBase::MinRNNBase(int64_t in, int64_t hidden, int64_t parts) : input_size(in), hidden_size(hidden) {
  NABLA_CHECK(in > 0 && hidden > 0, "minRNN: input_size and hidden_size must be positive, got {} and {}", in, hidden);
  linear = register_module("linear", std::make_shared<Linear>(in, parts * hidden));
}

Tensor MinRNNBase::initial_state(const Tensor& h0, int64_t batch, DType dtype) const {
  if (!h0.defined()) return zeros({batch, hidden_size}, dtype);
  NABLA_CHECK(h0.dim() == 2 && h0.size(0) == batch && h0.size(1) == hidden_size, "{}: h0 must be [{}, {}], got {}",
              type_name(), batch, hidden_size, shape_str(h0.sizes()));
  NABLA_CHECK(min(h0.detach()).item() >= 0, "{}: h0 must be non-negative (the log-space scan needs h >= 0)",
              type_name());
  return h0;
}

Tensor MinRNNBase::forward(const Tensor& x, const Tensor& h0) {
  NABLA_CHECK((x.dim() == 3 || x.dim() == 2) && x.size(-1) == input_size,
              "{}: expected input [B, T, {}] or [T, {}], got {}", type_name(), input_size, input_size,
              shape_str(x.sizes()));
  Tensor x3 = x.dim() == 2 ? x.unsqueeze(0) : x;
  Tensor h = initial_state(h0, x3.size(0), x.dtype());
  auto [log_a, log_b] = log_coefficients((*linear)(x3));
  Tensor out = linear_scan(log_a, log_b, h);
  return x.dim() == 2 ? out.squeeze(0) : out;
}

Tensor MinRNNBase::forward_sequential(const Tensor& x, const Tensor& h0) {
  NABLA_CHECK((x.dim() == 3 || x.dim() == 2) && x.size(-1) == input_size,
              "{}: expected input [B, T, {}] or [T, {}], got {}", type_name(), input_size, input_size,
              shape_str(x.sizes()));
  Tensor x3 = x.dim() == 2 ? x.unsqueeze(0) : x;
  auto [a, b] = coefficients((*linear)(x3));
  Tensor out = sequential_scan(a, b, initial_state(h0, x3.size(0), x.dtype()));
  return x.dim() == 2 ? out.squeeze(0) : out;
}

Tensor MinRNNBase::step(const Tensor& x_t, const Tensor& h_prev) {
  NABLA_CHECK(x_t.dim() == 2 && x_t.size(1) == input_size, "{}: step input must be [B, {}], got {}", type_name(),
              input_size, shape_str(x_t.sizes()));
  auto [a, b] = coefficients((*linear)(x_t));
  return add(mul(a, initial_state(h_prev, x_t.size(0), x_t.dtype())), b);
}

std::string MinRNNBase::extra_repr() const { return fmt::format("{}, {}", input_size, hidden_size); }

std::pair<Tensor, Tensor> MinGRU::log_coefficients(const Tensor& k) const {
  std::vector<Tensor> p = chunk(k, 2, -1);
  Tensor log_z = neg(softplus(neg(p[0])));       // log sigmoid(k_z)
  Tensor log_one_minus_z = neg(softplus(p[0]));  // log (1 - sigmoid(k_z))
  return {log_one_minus_z, add(log_z, log_g(p[1]))};
}

std::pair<Tensor, Tensor> MinGRU::coefficients(const Tensor& k) const {
  std::vector<Tensor> p = chunk(k, 2, -1);
  Tensor z = sigmoid(p[0]);
  return {add(neg(z), 1.0), mul(z, g_of(p[1]))};
}

std::pair<Tensor, Tensor> MinLSTM::log_coefficients(const Tensor& k) const {
  std::vector<Tensor> p = chunk(k, 3, -1);
  // log f' = log f - log(f + i) = -softplus(d), log i' = -softplus(-d), with
  // d = softplus(-k_f) - softplus(-k_i) (= log i - log f).
  Tensor d = sub(softplus(neg(p[0])), softplus(neg(p[1])));
  return {neg(softplus(d)), add(neg(softplus(neg(d))), log_g(p[2]))};
}

std::pair<Tensor, Tensor> MinLSTM::coefficients(const Tensor& k) const {
  std::vector<Tensor> p = chunk(k, 3, -1);
  Tensor f = sigmoid(p[0]), i = sigmoid(p[1]);
  Tensor total = add(f, i);
  return {div(f, total), mul(div(i, total), g_of(p[2]))};
}

}  // namespace nabla::nn
