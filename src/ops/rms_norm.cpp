// RMS normalization: the row kernel of layer norm without centering, written
// as an autograd::Function whose composition x * (mean(x^2) + eps)^-1/2 is its
// reference and gives its higher derivatives.
#include <any>
#include <limits>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/vec/table.h"
#include "nabla/autograd/function.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/norm.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/layout.h"
#include "ops/norm_shape.h"
#include "ops/reduced.h"

namespace nabla {

namespace {

// x [M, R] -> x / sqrt(mean(x^2) + eps) per row.
struct RmsNormalize : autograd::Function<RmsNormalize> {
  static constexpr const char* name = "rms_norm";

  static Tensor forward(autograd::FunctionContext& ctx, const Tensor& x, double eps) {
    const int64_t M = x.sizes()[0], R = x.sizes()[1];
    Tensor xc = contiguous_copy(x);
    Tensor y = Tensor::empty({M, R}, x.dtype()), rstd = Tensor::empty({M}, x.dtype());
    dispatch_floating(x.dtype(), name, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* in = xc.const_data<T>();
      T *o = y.data<T>(), *rs = rstd.data<T>();
      kernels::parallel_ranges(M, M * R, [&](int64_t m0, int64_t m1) {
        kernels::vec_for<T>().norm_rows(m1 - m0, R, in + m0 * R, eps, false, o + m0 * R, nullptr, nullptr, rs + m0);
      });
    });
    ctx.save_for_backward({y, rstd});
    ctx.saved_data["eps"] = eps;
    return y;
  }

  // dx = rstd (g - y mean(g y)) per row.
  static std::vector<Tensor> backward(autograd::FunctionContext& ctx, const std::vector<Tensor>& grads) {
    const Tensor &y = ctx.saved()[0], &rstd = ctx.saved()[1];
    const int64_t M = y.sizes()[0], R = y.sizes()[1];
    Tensor g = contiguous_copy(grads[0]);
    Tensor dx = Tensor::empty({M, R}, g.dtype());
    dispatch_floating(g.dtype(), name, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T *gp = g.const_data<T>(), *yp = y.const_data<T>(), *rs = rstd.const_data<T>();
      T* out = dx.data<T>();
      kernels::parallel_ranges(M, M * R, [&](int64_t m0, int64_t m1) {
        kernels::vec_for<T>().norm_rows_backward(m1 - m0, R, gp + m0 * R, yp + m0 * R, rs + m0, false, out + m0 * R);
      });
    });
    return {dx};
  }

  static Tensor composite(const autograd::FunctionContext& ctx, const std::vector<Tensor>& in) {
    const double eps = std::any_cast<double>(ctx.saved_data.at("eps"));
    return mul(in[0], pow(add(mean(mul(in[0], in[0]), {1}, true), eps), -0.5));
  }
};

// torch.finfo(dtype).eps.
double machine_epsilon(DType t) {
  switch (t) {
    case DType::f64: return std::numeric_limits<double>::epsilon();
    case DType::f16: return 0.0009765625;  // 2^-10
    case DType::bf16: return 0.0078125;    // 2^-7
    default: return std::numeric_limits<float>::epsilon();
  }
}

}  // namespace

Tensor rms_norm(const Tensor& x, const Shape& ns, const Tensor& w, std::optional<double> eps) {
  const double e = eps.value_or(machine_epsilon(x.dtype()));
  if (auto r = detail::input_entry([&](const Tensor& x_, const Tensor& w_) { return rms_norm(x_, ns, w_, e); }, x, w))
    return *r;
  NABLA_CHECK(is_floating(x.dtype()), "rms_norm: expected a floating input, got {}", dtype_name(x.dtype()));
  NABLA_CHECK(e >= 0, "rms_norm: eps must be non-negative, got {}", e);
  const int64_t rows = detail::normalized_rows(x, ns, w, Tensor(), "rms_norm");
  Tensor y = RmsNormalize::apply(x.reshape({rows, shape_numel(ns)}), e).reshape(x.sizes());
  return w.defined() ? mul(y, w) : y;
}

}  // namespace nabla
