#include "support/gradcheck.h"

#include <cmath>

namespace nabla::testing {

namespace {

// Pointer to the element with flat row-major index `i` of a strided f64 tensor.
double* element(const Tensor& t, int64_t i) {
  int64_t off = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    int64_t s = t.sizes()[d];
    off += (i % s) * t.strides()[d];
    i /= s;
  }
  return t.mutable_data<double>() + off;
}

}  // namespace

GradcheckResult gradcheck(const Fn& fn, const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  Generator gen(1234);
  Tensor out = fn(inputs);
  Tensor w = randn(out.sizes(), out.dtype(), &gen);
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) t.set_grad(Tensor());
  Tensor loss = sum(mul(out, w));
  loss.backward();

  auto scalar = [&]() {
    NoGradGuard ng;
    return sum(mul(fn(inputs), w)).item();
  };
  GradcheckResult res;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    if (x.dtype() != DType::f64) {
      res.ok = false;
      res.message = fmt::format("input {} is {}, gradcheck needs f64", k, dtype_name(x.dtype()));
      return res;
    }
    Tensor g = x.grad();
    std::vector<double> analytic = g.defined() ? g.to_vector<double>() : std::vector<double>(x.numel(), 0.0);
    for (int64_t i = 0; i < x.numel(); ++i) {
      double* p = element(x, i);
      double orig = *p;
      *p = orig + eps;
      double up = scalar();
      *p = orig - eps;
      double down = scalar();
      *p = orig;
      double numeric = (up - down) / (2 * eps);
      double a = analytic[i];
      if (!(std::abs(a - numeric) <= atol + rtol * std::abs(numeric))) {
        res.ok = false;
        res.message += fmt::format("input {} element {}: analytic {} vs numeric {}\n", k, i, a, numeric);
        if (res.message.size() > 2000) return res;
      }
    }
  }
  return res;
}

GradcheckResult gradgradcheck(const Fn& fn, const std::vector<Tensor>& inputs, double eps, double atol,
                              double rtol) {
  Generator gen(4321);
  std::vector<Tensor> diff;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) diff.push_back(t);
  GradcheckResult res;
  if (diff.empty()) return res;
  Tensor w = randn(fn(inputs).sizes(), DType::f64, &gen);
  std::vector<Tensor> u;
  for (const Tensor& t : diff) u.push_back(randn(t.sizes(), DType::f64, &gen));
  // sum_k <G_k, u_k>, G the first derivative (recorded when `create`).
  auto first_order = [&](bool create) {
    Tensor o = fn(inputs);
    std::vector<Tensor> g = autograd::grad({sum(mul(o, w))}, diff, {}, create, create, true);
    Tensor s = zeros({}, DType::f64);
    for (size_t k = 0; k < g.size(); ++k)
      if (g[k].defined()) s = add(s, sum(mul(g[k], u[k])));
    return s;
  };
  Tensor s = first_order(true);
  std::vector<Tensor> analytic(diff.size());
  if (s.requires_grad()) analytic = autograd::grad({s}, diff, {}, false, false, true);
  for (size_t k = 0; k < diff.size(); ++k) {
    const Tensor& x = diff[k];
    std::vector<double> a = analytic[k].defined() ? analytic[k].to_vector<double>() : std::vector<double>(x.numel(), 0.0);
    for (int64_t i = 0; i < x.numel(); ++i) {
      double* p = element(x, i);
      double orig = *p;
      *p = orig + eps;
      double up = first_order(false).item();
      *p = orig - eps;
      double down = first_order(false).item();
      *p = orig;
      double numeric = (up - down) / (2 * eps);
      if (!(std::abs(a[i] - numeric) <= atol + rtol * std::abs(numeric))) {
        res.ok = false;
        res.message += fmt::format("input {} element {}: analytic {} vs numeric {}\n", k, i, a[i], numeric);
        if (res.message.size() > 2000) return res;
      }
    }
  }
  return res;
}

Tensor noncontiguous(const Tensor& x) {
  Shape big = x.sizes();
  big.push_back(2);
  Tensor buf = zeros(big, x.dtype());
  Tensor v = buf.select(-1, 0);
  v.impl().is_view = false;  // a test input, treated as a fresh leaf
  {
    NoGradGuard ng;
    v.copy_(x.detach());
  }
  if (x.requires_grad()) v.requires_grad_();
  return v;
}

Tensor rand_input(const Shape& s, double lo, double hi) {
  Tensor t = rand(s, DType::f64) * (hi - lo) + lo;
  return t.detach().requires_grad_();
}

}  // namespace nabla::testing
