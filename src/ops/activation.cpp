// Activations: one fused forward kernel and one fused derivative kernel each.
#include "nabla/ops/activation.h"
#include "nabla/ops/trace.h"

#include <algorithm>
#include <cmath>

#include "nabla/autograd/grad_mode.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"
#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/vec/table.h"
#include "ops/elementwise_impl.h"
#include "ops/reduced.h"

namespace nabla {

using autograd::record;
using detail::grad_map;
using detail::scalar_like;
using detail::unary_float_map;
using Grads = std::vector<Tensor>;

static Tensor relu_untraced(const Tensor& x) {
  if (!is_floating(x.dtype()))  // integers keep their dtype, as in PyTorch (no gradient to record)
    return maximum(x, zeros({}, x.dtype()));
  // NaN passes through, as in PyTorch (clamp_min).
  Tensor out = unary_float_map("relu", x, [](auto v) { return v <= 0 ? decltype(v)(0) : v; }, kernels::Unary::relu);
  Tensor y = out.detach();
  record(
      out, "relu", {x},
      [y](const Tensor& g) {
        // relu's derivative is piecewise constant: with create_graph the gradient is g times a fixed mask.
        if (grad_enabled()) return Grads{mul(g, gt(y, scalar_like(0.0, y)).to(g.dtype()))};
        return Grads{grad_map("relu", y, g, [](auto v, auto gv) { return v > 0 ? gv : decltype(gv)(0); },
                              kernels::Binary::relu_backward)};
      },
      {out}, autograd::Backward::differentiable);
  return out;
}

Tensor relu(const Tensor& x) {
  trace::Scope traced;
  Tensor out = relu_untraced(x);
  if (traced) {
    traced.done("relu", {x}, out, {});
  }
  return out;
}

Tensor leaky_relu(const Tensor& x, double slope) {
  Tensor out = unary_float_map("leaky_relu", x, [slope](auto v) { return v > 0 ? v : v * decltype(v)(slope); });
  record(
      out, "leaky_relu", {x},
      [x, slope](const Tensor& g) {
        return Grads{grad_map("leaky_relu", x, g, [slope](auto v, auto gv) { return v > 0 ? gv : gv * decltype(gv)(slope); })};
      },
      {x});
  return out;
}

Tensor elu(const Tensor& x, double alpha) {
  Tensor out = unary_float_map("elu", x, [alpha](auto v) {
    using T = decltype(v);
    return v > 0 ? v : T(alpha) * std::expm1(v);
  });
  record(
      out, "elu", {x},
      [x, alpha](const Tensor& g) {
        return Grads{grad_map("elu", x, g, [alpha](auto v, auto gv) {
          using T = decltype(v);
          return v > 0 ? gv : gv * T(alpha) * std::exp(v);
        })};
      },
      {x});
  return out;
}

namespace {
constexpr double kTanhScale = 0.7978845608028654, kCube = 0.044715;  // sqrt(2/pi), GELU's tanh fit
}  // namespace

static Tensor gelu_untraced(const Tensor& x, GeluApproximation approximate) {
  const bool tanh_form = approximate == GeluApproximation::tanh;
  if (!tanh_form) {  // the exact form, vectorized over dense runs (kernels::gelu_fast)
    Tensor out = unary_float_map("gelu", x, [](auto v) { return kernels::gelu_fast(v); }, kernels::Unary::gelu);
    record(
        out, "gelu", {x},
        [x](const Tensor& g) {
          return Grads{grad_map("gelu", x, g, [](auto v, auto gv) { return kernels::gelu_grad_fast(v, gv); },
                                kernels::Binary::gelu_backward)};
        },
        {x});
    return out;
  }
  Tensor out = unary_float_map("gelu", x, [](auto v) {
    using T = decltype(v);
    return T(0.5) * v * (T(1) + std::tanh(T(kTanhScale) * (v + T(kCube) * v * v * v)));
  });
  record(
      out, "gelu", {x},
      [x](const Tensor& g) {
        return Grads{grad_map("gelu", x, g, [](auto v, auto gv) {
          using T = decltype(v);
          T inner = T(kTanhScale) * (v + T(kCube) * v * v * v);
          T t = std::tanh(inner);
          T dinner = T(kTanhScale) * (T(1) + T(3 * kCube) * v * v);
          return gv * (T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * dinner);
        })};
      },
      {x});
  return out;
}

Tensor gelu(const Tensor& x, GeluApproximation approximate) {
  trace::Scope traced;
  Tensor out = gelu_untraced(x, approximate);
  if (traced) {
    traced.done("gelu", {x}, out, {{"approximate", std::string(approximate == GeluApproximation::tanh ? "tanh" : "none")}});
  }
  return out;
}

namespace {
template <class T> T sigmoid_of(T v) { return T(1) / (T(1) + std::exp(-v)); }
}  // namespace

static Tensor silu_untraced(const Tensor& x) {
  Tensor out = unary_float_map("silu", x, [](auto v) { return v * sigmoid_of(v); });
  record(
      out, "silu", {x},
      [x](const Tensor& g) {
        return Grads{grad_map("silu", x, g, [](auto v, auto gv) {
          auto s = sigmoid_of(v);
          return gv * s * (1 + v * (1 - s));
        })};
      },
      {x});
  return out;
}

Tensor silu(const Tensor& x) {
  trace::Scope traced;
  Tensor out = silu_untraced(x);
  if (traced) {
    traced.done("silu", {x}, out, {});
  }
  return out;
}

static Tensor sigmoid_untraced(const Tensor& x_in) {
  const Tensor x = detail::float_operand(x_in);
  Tensor out = unary_float_map("sigmoid", x, [](auto v) { return sigmoid_of(v); });
  Tensor y = out.detach();
  record(
      out, "sigmoid", {x},
      [x, y](const Tensor& g) {
        if (grad_enabled()) {  // create_graph: the same formula on the graph (y recomputed from x)
          Tensor s = sigmoid(x);
          return Grads{mul(g, mul(s, sub(scalar_like(1.0, s), s)))};
        }
        return Grads{grad_map("sigmoid", y, g, [](auto s, auto gv) { return gv * s * (1 - s); })};
      },
      {out}, autograd::Backward::differentiable);
  return out;
}

Tensor sigmoid(const Tensor& x) {
  trace::Scope traced;
  Tensor out = sigmoid_untraced(x);
  if (traced) {
    traced.done("sigmoid", {x}, out, {});
  }
  return out;
}

static Tensor tanh_untraced(const Tensor& x_in) {
  const Tensor x = detail::float_operand(x_in);
  Tensor out = unary_float_map("tanh", x, [](auto v) { return std::tanh(v); });
  Tensor y = out.detach();
  record(
      out, "tanh", {x},
      [x, y](const Tensor& g) {
        if (grad_enabled()) {
          Tensor t = tanh(x);
          return Grads{mul(g, sub(scalar_like(1.0, t), mul(t, t)))};
        }
        return Grads{grad_map("tanh", y, g, [](auto t, auto gv) { return gv * (1 - t * t); })};
      },
      {out}, autograd::Backward::differentiable);
  return out;
}

Tensor tanh(const Tensor& x) {
  trace::Scope traced;
  Tensor out = tanh_untraced(x);
  if (traced) {
    traced.done("tanh", {x}, out, {});
  }
  return out;
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  Tensor out = unary_float_map("softplus", x, [beta, threshold](auto v) {
    using T = decltype(v);
    return v * T(beta) > T(threshold) ? v : kernels::softplus_fast(v * T(beta)) / T(beta);
  });
  record(
      out, "softplus", {x},
      [x, beta, threshold](const Tensor& g) {
        return Grads{grad_map("softplus", x, g, [beta, threshold](auto v, auto gv) {
          using T = decltype(v);
          return v * T(beta) > T(threshold) ? gv : gv * kernels::sigmoid_fast(v * T(beta));
        })};
      },
      {x});
  return out;
}

Tensor Tensor::relu() const { return nabla::relu(*this); }
Tensor Tensor::sigmoid() const { return nabla::sigmoid(*this); }
Tensor Tensor::tanh() const { return nabla::tanh(*this); }

namespace {

// Softmax over `dim` of contiguous x seen as [outer, n, inner]; log-space when `log`.
Tensor softmax_forward(const Tensor& xin, int64_t dim, bool log, const char* op) {
  Tensor x = xin.contiguous();
  Tensor out = Tensor::empty(x.sizes(), x.dtype());
  int64_t outer = 1, n = 1, inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < dim) outer *= x.sizes()[d];
    else if (d == dim) n = x.sizes()[d];
    else inner *= x.sizes()[d];
  }
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = x.const_data<T>();
    T* o = out.data<T>();
    kernels::parallel_lane_ranges(outer, inner, outer * inner * n, [&](int64_t b, int64_t k0, int64_t k1) {
      kernels::vec_for<T>().softmax_lanes(n, inner, k0, k1, in + b * n * inner, o + b * n * inner, log);
    });
  });
  return out;
}

}  // namespace

static Tensor softmax_untraced(const Tensor& x, int64_t dim) {
  if (auto r = detail::reduced_entry([dim](const Tensor& x_) { return softmax(x_, dim); }, x)) return *r;
  dim = wrap_dim(dim, x.dim(), "softmax");
  Tensor out = softmax_forward(x, dim, false, "softmax");
  Tensor y = out.detach();
  record(
      out, "softmax", {x},
      [x, y, dim](const Tensor& g) {
        Tensor s = grad_enabled() ? softmax(x, dim) : y;  // create_graph: y on the graph
        return Grads{mul(s, sub(g, sum(mul(g, s), {dim}, true)))};
      },
      {out}, autograd::Backward::differentiable);
  return out;
}

Tensor softmax(const Tensor& x, int64_t dim) {
  trace::Scope traced;
  Tensor out = softmax_untraced(x, dim);
  if (traced) {
    traced.done("softmax", {x}, out, {{"dim", dim}});
  }
  return out;
}

static Tensor log_softmax_untraced(const Tensor& x, int64_t dim) {
  if (auto r = detail::reduced_entry([dim](const Tensor& x_) { return log_softmax(x_, dim); }, x)) return *r;
  dim = wrap_dim(dim, x.dim(), "log_softmax");
  Tensor out = softmax_forward(x, dim, true, "log_softmax");
  Tensor y = out.detach();
  record(
      out, "log_softmax", {x},
      [x, y, dim](const Tensor& g) {
        Tensor p = grad_enabled() ? softmax(x, dim) : exp(y);
        return Grads{sub(g, mul(p, sum(g, {dim}, true)))};
      },
      {out}, autograd::Backward::differentiable);
  return out;
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  trace::Scope traced;
  Tensor out = log_softmax_untraced(x, dim);
  if (traced) {
    traced.done("log_softmax", {x}, out, {{"dim", dim}});
  }
  return out;
}

}  // namespace nabla

namespace nabla {

Tensor& Tensor::relu_() {
  return detail::apply_inplace(*this, "relu_", {}, [](const Tensor& s) { return nabla::relu(s); });
}

}  // namespace nabla
