// Elementwise arithmetic, math and comparisons: forward kernels through
// detail::map, backward formulas beside each.
#include "nabla/ops/elementwise.h"
#include "nabla/ops/trace.h"

#include <cmath>
#include <optional>

#include "nabla/autograd/grad_mode.h"
#include "ops/elementwise_impl.h"

namespace nabla {

using autograd::record;
using detail::binary_map;
using detail::grad_map;
using detail::scalar_like;
using detail::unary_float_map;
using Grads = std::vector<Tensor>;

namespace detail {

namespace {

// [first, last] element offsets a tensor touches in its storage.
std::pair<int64_t, int64_t> extent(const Tensor& t) {
  int64_t lo = t.offset(), hi = t.offset();
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t span = (t.sizes()[d] - 1) * t.strides()[d];
    (span < 0 ? lo : hi) += span;
  }
  return {lo, hi};
}

}  // namespace

void check_inplace_overlap(const Tensor& self, const std::vector<Tensor>& inputs, const char* op) {
  if (self.numel() == 0) return;
  for (int64_t d = 0; d < self.dim(); ++d)
    NABLA_CHECK(self.sizes()[d] == 1 || self.strides()[d] != 0,
                "{}: unsupported operation: more than one element of the written-to tensor {} (strides {}) refers "
                "to a single memory location. Please clone() the tensor before performing the operation.",
                op, shape_str(self.sizes()), shape_str(self.strides()));
  // As PyTorch: an input in the same storage must be the destination itself or
  // lie apart from it. Judged where both are dense (every element once); an
  // interleaving of strided views (x[::2] and x[1::2]) passes.
  const bool self_dense = !dense_dim_order(self.sizes(), self.strides()).empty();
  for (const Tensor& in : inputs) {
    if (!in.defined() || in.numel() == 0 || in.storage() != self.storage()) continue;
    if (in.offset() == self.offset() && in.sizes() == self.sizes() && in.strides() == self.strides()) continue;
    if (!self_dense || dense_dim_order(in.sizes(), in.strides()).empty()) continue;
    const auto [a0, a1] = extent(self);
    const auto [b0, b1] = extent(in);
    NABLA_CHECK(a1 < b0 || b1 < a0,
                "{}: unsupported operation: some elements of the input tensor {} (strides {}) and the written-to "
                "tensor {} (strides {}) refer to a single memory location. Please clone() the tensor before "
                "performing the operation.",
                op, shape_str(in.sizes()), shape_str(in.strides()), shape_str(self.sizes()),
                shape_str(self.strides()));
  }
}

Tensor& apply_inplace(Tensor& self, const char* op, const std::vector<Tensor>& others,
                      const std::function<Tensor(const Tensor&)>& out_of_place, const std::function<void()>& direct) {
  check_inplace_overlap(self, others, op);
  std::vector<Tensor> all = others;
  all.push_back(self);
  if (autograd::needs_grad(all)) {
    NABLA_CHECK(!(self.is_leaf() && self.requires_grad()),
                "{}: a leaf tensor that requires grad is used in an in-place operation; do it under NoGradGuard "
                "or on a clone()",
                op);
    NABLA_CHECK(!self.impl().is_view,
                "{}: in-place operation on a view while recording gradients is not supported; clone() the view "
                "first",
                op);
    Tensor r = out_of_place(self.clone());
    NABLA_CHECK(r.sizes() == self.sizes(), "{}: result of shape {} cannot be written in place into shape {}", op,
                shape_str(r.sizes()), shape_str(self.sizes()));
    copy_raw(self, r);
    self.storage()->bump_version();
    autograd::take_history(self.impl(), r.impl());
    return self;
  }
  if (direct) {
    direct();
  } else {
    Tensor r = out_of_place(self);
    NABLA_CHECK(r.sizes() == self.sizes(), "{}: result of shape {} cannot be written in place into shape {}", op,
                shape_str(r.sizes()), shape_str(self.sizes()));
    copy_raw(self, r);
  }
  self.storage()->bump_version();
  return self;
}

std::pair<Tensor, Tensor> promoted(const Tensor& a, const Tensor& b) {
  const DType t = result_type(a, b);
  return {a.to(t), b.to(t)};
}

}  // namespace detail

DType result_type(const Tensor& a, const Tensor& b) {
  // Promote within each group (operands with dims, 0-dim operands), then let
  // the 0-dim group decide only when it brings a higher category.
  std::optional<DType> dims, zero;
  for (const Tensor* t : {&a, &b}) {
    std::optional<DType>& g = t->dim() > 0 ? dims : zero;
    g = g ? promote_types(*g, t->dtype()) : t->dtype();
  }
  if (!dims) return *zero;
  // Categories: bool < integer < floating (PyTorch's rule for wrapped scalars).
  auto category = [](DType t) { return t == DType::boolean ? 0 : is_floating(t) ? 2 : 1; };
  if (!zero || category(*zero) <= category(*dims)) return *dims;
  return promote_types(*dims, *zero);
}

// ---------------------------------------------------------------- arithmetic

static Tensor add_untraced(const Tensor& a0, const Tensor& b0, double alpha) {
  const auto [a, b] = detail::promoted(a0, b0);
  Tensor out = alpha == 1.0 ? binary_map("add", a, b, [](auto x, auto y) { return x + y; }, kernels::Binary::add)
                            : detail::via_compute(a, b, [&](const Tensor& x, const Tensor& y) {
                                return dispatch_native(x.dtype(), "add", [&](auto tag) {
                                  using T = typename decltype(tag)::type;
                                  T al = static_cast<T>(alpha);
                                  return binary_map("add", x, y, [al](auto u, auto v) { return u + al * v; });
                                });
                              });
  Shape sa = a.sizes(), sb = b.sizes();
  record(out, "add", {a, b}, [sa, sb, alpha](const Tensor& g) {
    return Grads{sum_to(g, sa), sum_to(alpha == 1.0 ? g : mul(g, alpha), sb)};
  }, {}, autograd::Backward::differentiable);
  return out;
}

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  trace::Scope traced;
  Tensor out = add_untraced(a, b, alpha);
  if (traced) {
    traced.done("add", {a, b}, out, {{"alpha", alpha}});
  }
  return out;
}

static Tensor sub_untraced(const Tensor& a0, const Tensor& b0, double alpha) {
  const auto [a, b] = detail::promoted(a0, b0);
  Tensor out = alpha == 1.0 ? binary_map("sub", a, b, [](auto x, auto y) { return x - y; }, kernels::Binary::sub)
                            : detail::via_compute(a, b, [&](const Tensor& x, const Tensor& y) {
                                return dispatch_native(x.dtype(), "sub", [&](auto tag) {
                                  using T = typename decltype(tag)::type;
                                  T al = static_cast<T>(alpha);
                                  return binary_map("sub", x, y, [al](auto u, auto v) { return u - al * v; });
                                });
                              });
  Shape sa = a.sizes(), sb = b.sizes();
  record(out, "sub", {a, b},
         [sa, sb, alpha](const Tensor& g) { return Grads{sum_to(g, sa), sum_to(mul(g, -alpha), sb)}; }, {},
         autograd::Backward::differentiable);
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) {
  trace::Scope traced;
  Tensor out = sub_untraced(a, b, alpha);
  if (traced) {
    traced.done("sub", {a, b}, out, {{"alpha", alpha}});
  }
  return out;
}

static Tensor mul_untraced(const Tensor& a0, const Tensor& b0) {
  const auto [a, b] = detail::promoted(a0, b0);
  Tensor out = binary_map("mul", a, b, [](auto x, auto y) { return x * y; }, kernels::Binary::mul);
  bool ga = a.requires_grad(), gb = b.requires_grad();
  record(
      out, "mul", {a, b},
      [a, b, ga, gb](const Tensor& g) {
        return Grads{ga ? sum_to(mul(g, b), a.sizes()) : Tensor(), gb ? sum_to(mul(g, a), b.sizes()) : Tensor()};
      },
      {ga ? b : Tensor(), gb ? a : Tensor()}, autograd::Backward::differentiable);
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  trace::Scope traced;
  Tensor out = mul_untraced(a, b);
  if (traced) {
    traced.done("mul", {a, b}, out, {});
  }
  return out;
}

static Tensor div_untraced(const Tensor& a0, const Tensor& b0) {
  // True division, as PyTorch's div: integers divide as f32.
  const DType t = is_floating(result_type(a0, b0)) ? result_type(a0, b0) : DType::f32;
  const Tensor a = a0.to(t), b = b0.to(t);
  Tensor out = binary_map("div", a, b, [](auto x, auto y) { return x / y; }, kernels::Binary::div);
  bool gb = b.requires_grad();
  record(
      out, "div", {a, b},
      [a, b, gb](const Tensor& g) {
        Tensor gb_out;
        if (gb) gb_out = sum_to(neg(div(mul(g, a), mul(b, b))), b.sizes());
        return Grads{sum_to(div(g, b), a.sizes()), gb_out};
      },
      {a, b}, autograd::Backward::differentiable);
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  trace::Scope traced;
  Tensor out = div_untraced(a, b);
  if (traced) {
    traced.done("div", {a, b}, out, {});
  }
  return out;
}

Tensor add(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }

Tensor neg(const Tensor& x) {
  Tensor out = detail::via_compute(x, [&](const Tensor& xc) {
    return dispatch_numeric(xc.dtype(), "neg", [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto fn = [](T v) { return static_cast<T>(-v); };
    if constexpr (std::is_floating_point_v<T>)
      return detail::map_new_vec<T, T>(x.sizes(), fn, detail::UnaryVec<T>{kernels::Unary::neg}, xc);
    return detail::map_new<T, T>(x.sizes(), fn, xc);
    });
  });
  record(out, "neg", {x}, [](const Tensor& g) { return Grads{neg(g)}; }, {}, autograd::Backward::differentiable);
  return out;
}

Tensor pow(const Tensor& x_in, double e) {
  const Tensor x = detail::float_operand(x_in);  // a floating exponent, as PyTorch's x ** 2.0
  Tensor out = unary_float_map("pow", x, [e](auto v) { return std::pow(v, static_cast<decltype(v)>(e)); });
  record(
      out, "pow", {x},
      [x, e](const Tensor& g) {
        if (e == 0.0) return Grads{zeros_like(x)};
        if (grad_enabled()) return Grads{mul(g, mul(pow(x, e - 1.0), scalar_like(e, x)))};
        return Grads{grad_map("pow", x, g, [e](auto v, auto gv) {
          using T = decltype(v);
          return gv * static_cast<T>(e) * std::pow(v, static_cast<T>(e - 1.0));
        })};
      },
      {x}, autograd::Backward::differentiable);
  return out;
}

Tensor pow(const Tensor& x0, const Tensor& y0) {
  const auto [x, y] = detail::promoted(x0, y0);
  NABLA_CHECK(is_floating(x.dtype()), "pow: expected floating tensors, got {}", dtype_name(x.dtype()));
  Tensor out = binary_map("pow", x, y, [](auto a, auto b) { return std::pow(a, b); });
  Tensor yo = out.detach();
  record(
      out, "pow", {x, y},
      [x, y, yo](const Tensor& g) {
        // d/dx = y x^(y-1); d/dy = x^y log x, taken as 0 where x == 0 and y >= 0 (PyTorch's convention).
        Tensor gx = sum_to(mul(g, mul(y, pow(x, sub(y, scalar_like(1.0, y))))), x.sizes());
        Tensor zero_base = logical_and(eq(x, scalar_like(0.0, x)), ge(y, scalar_like(0.0, y)));
        Tensor gy = sum_to(masked_fill(mul(g, mul(yo, log(x))), zero_base, 0.0), y.sizes());
        return Grads{gx, gy};
      },
      {x, y, out});
  return out;
}

Tensor exp(const Tensor& x_in) {
  const Tensor x = detail::float_operand(x_in);
  Tensor out = unary_float_map("exp", x, [](auto v) { return std::exp(v); });
  Tensor y = out.detach();
  // y is the output cut off from the graph (keeping out itself would be a cycle);
  // for a second derivative exp(x) is recomputed on the graph.
  record(out, "exp", {x}, [x, y](const Tensor& g) { return Grads{mul(g, grad_enabled() ? exp(x) : y)}; }, {out},
         autograd::Backward::differentiable);
  return out;
}

// Written with each other, so every derivative is recorded (any order).
Tensor sin(const Tensor& x_in) {
  const Tensor x = detail::float_operand(x_in);
  Tensor out = unary_float_map("sin", x, [](auto v) { return std::sin(v); });
  record(out, "sin", {x}, [x](const Tensor& g) { return Grads{mul(g, cos(x))}; }, {x},
         autograd::Backward::differentiable);
  return out;
}

Tensor cos(const Tensor& x_in) {
  const Tensor x = detail::float_operand(x_in);
  Tensor out = unary_float_map("cos", x, [](auto v) { return std::cos(v); });
  record(out, "cos", {x}, [x](const Tensor& g) { return Grads{neg(mul(g, sin(x)))}; }, {x},
         autograd::Backward::differentiable);
  return out;
}

Tensor acos(const Tensor& x_in) {
  const Tensor x = detail::float_operand(x_in);
  Tensor out = unary_float_map("acos", x, [](auto v) { return std::acos(v); });
  // d acos(x) / dx = -1 / sqrt(1 - x^2)
  record(out, "acos", {x}, [x](const Tensor& g) { return Grads{neg(div(g, sqrt(sub(scalar_like(1.0, x), mul(x, x)))))}; },
         {x}, autograd::Backward::differentiable);
  return out;
}

Tensor log(const Tensor& x_in) {
  const Tensor x = detail::float_operand(x_in);
  Tensor out = unary_float_map("log", x, [](auto v) { return std::log(v); });
  record(out, "log", {x}, [x](const Tensor& g) { return Grads{div(g, x)}; }, {x}, autograd::Backward::differentiable);
  return out;
}

Tensor log1p(const Tensor& x_in) {
  const Tensor x = detail::float_operand(x_in);
  Tensor out = unary_float_map("log1p", x, [](auto v) { return std::log1p(v); });
  record(
      out, "log1p", {x},
      [x](const Tensor& g) { return Grads{grad_map("log1p", x, g, [](auto v, auto gv) { return gv / (1 + v); })}; },
      {x});
  return out;
}

Tensor sqrt(const Tensor& x_in) {
  const Tensor x = detail::float_operand(x_in);
  Tensor out = unary_float_map("sqrt", x, [](auto v) { return std::sqrt(v); });
  Tensor y = out.detach();
  record(
      out, "sqrt", {x},
      [x, y](const Tensor& g) {
        if (grad_enabled()) return Grads{div(g, mul(sqrt(x), scalar_like(2.0, x)))};
        return Grads{grad_map("sqrt", y, g, [](auto v, auto gv) { return gv / (2 * v); })};
      },
      {out}, autograd::Backward::differentiable);
  return out;
}

Tensor rsqrt(const Tensor& x_in) {
  const Tensor x = detail::float_operand(x_in);
  Tensor out = unary_float_map("rsqrt", x, [](auto v) { return 1 / std::sqrt(v); });
  Tensor y = out.detach();
  record(
      out, "rsqrt", {x},
      [y](const Tensor& g) {
        return Grads{grad_map("rsqrt", y, g, [](auto v, auto gv) { return gv * (-0.5f) * v * v * v; })};
      },
      {out});
  return out;
}

Tensor abs(const Tensor& x) {
  Tensor out = detail::via_compute(x, [&](const Tensor& xc) {
    return dispatch_numeric(xc.dtype(), "abs", [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto fn = [](T v) { return v < 0 ? static_cast<T>(-v) : v; };
    if constexpr (std::is_floating_point_v<T>)
      return detail::map_new_vec<T, T>(x.sizes(), fn, detail::UnaryVec<T>{kernels::Unary::abs}, xc);
    return detail::map_new<T, T>(x.sizes(), fn, xc);
    });
  });
  record(out, "abs", {x}, [x](const Tensor& g) { return Grads{mul(g, sign(x))}; }, {x});
  return out;
}

Tensor sign(const Tensor& x) {
  Tensor out = detail::via_compute(x, [&](const Tensor& xc) {
    return dispatch_numeric(xc.dtype(), "sign", [&](auto tag) {
    using T = typename decltype(tag)::type;
    return detail::map_new<T, T>(x.sizes(), [](T v) { return static_cast<T>((v > 0) - (v < 0)); }, xc);
    });
  });
  record(out, "sign", {x}, [x](const Tensor&) { return Grads{zeros_like(x)}; });
  return out;
}

Tensor square(const Tensor& x) { return mul(x, x); }

static Tensor clamp_untraced(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  Tensor out = dispatch_numeric(x.dtype(), "clamp", [&](auto tag) {
    using T = typename decltype(tag)::type;
    bool has_lo = lo.has_value(), has_hi = hi.has_value();
    T l = static_cast<T>(lo.value_or(0)), h = static_cast<T>(hi.value_or(0));
    return detail::map_new<T, T>(
        x.sizes(),
        [=](T v) {
          if (has_lo && v < l) v = l;
          if (has_hi && v > h) v = h;
          return v;
        },
        x);
  });
  record(
      out, "clamp", {x},
      [x, lo, hi](const Tensor& g) {
        double l = lo.value_or(-INFINITY), h = hi.value_or(INFINITY);
        return Grads{grad_map("clamp", x, g, [l, h](auto v, auto gv) {
          return (v >= l && v <= h) ? gv : static_cast<decltype(gv)>(0);
        })};
      },
      {x});
  return out;
}

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  trace::Scope traced;
  Tensor out = clamp_untraced(x, lo, hi);
  if (traced) {
    trace::Attrs attrs;
    if (lo) attrs.emplace_back("min", *lo);
    if (hi) attrs.emplace_back("max", *hi);
    traced.done("clamp", {x}, out, std::move(attrs));
  }
  return out;
}

namespace {

// Gradient of minimum/maximum for one side: g where that side wins, g/2 on ties.
Tensor minmax_grad(const Tensor& g, const Tensor& self, const Tensor& other, bool is_max) {
  return dispatch_floating(g.dtype(), "minimum/maximum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    Shape s = g.sizes();
    Tensor full_g = detail::map_new<T, T, T, T>(
        s,
        [is_max](T gv, T a, T b) {
          if (a == b) return gv / 2;
          return (is_max ? a > b : a < b) ? gv : T(0);
        },
        g, self, other);
    return sum_to(full_g, self.sizes());
  });
}

}  // namespace

Tensor minimum(const Tensor& a0, const Tensor& b0) {
  const auto [a, b] = detail::promoted(a0, b0);
  Tensor out = binary_map("minimum", a, b, [](auto x, auto y) { return x < y ? x : y; }, kernels::Binary::minimum);
  record(
      out, "minimum", {a, b},
      [a, b](const Tensor& g) { return Grads{minmax_grad(g, a, b, false), minmax_grad(g, b, a, false)}; }, {a, b});
  return out;
}

Tensor maximum(const Tensor& a0, const Tensor& b0) {
  const auto [a, b] = detail::promoted(a0, b0);
  Tensor out = binary_map("maximum", a, b, [](auto x, auto y) { return x > y ? x : y; }, kernels::Binary::maximum);
  record(
      out, "maximum", {a, b},
      [a, b](const Tensor& g) { return Grads{minmax_grad(g, a, b, true), minmax_grad(g, b, a, true)}; }, {a, b});
  return out;
}

Tensor where(const Tensor& cond0, const Tensor& a0, const Tensor& b0) {
  const auto [a, b] = detail::promoted(a0, b0);
  const Tensor cond = detail::bool_mask(cond0, "where");
  Shape s = broadcast_shapes(cond.sizes(), detail::binary_shape(a, b, "where"), "where");
  Tensor out = dispatch_all(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return detail::map_new<T, bool, T, T>(s, [](bool c, T x, T y) { return c ? x : y; }, cond, a, b);
  });
  record(
      out, "where", {a, b},
      [cond, sa = a.sizes(), sb = b.sizes()](const Tensor& g) {
        return Grads{sum_to(masked_fill(g, logical_not(cond), 0.0), sa), sum_to(masked_fill(g, cond, 0.0), sb)};
      },
      {cond}, autograd::Backward::differentiable);
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, double b) { return where(cond, a, scalar_like(b, a)); }

Tensor masked_fill(const Tensor& x, const Tensor& mask0, double value) {
  const Tensor mask = detail::bool_mask(mask0, "masked_fill");
  Shape s = broadcast_shapes(x.sizes(), mask.sizes(), "masked_fill");
  NABLA_CHECK(s == x.sizes(), "masked_fill: mask of shape {} does not broadcast to input shape {}",
              shape_str(mask.sizes()), shape_str(x.sizes()));
  Tensor out = dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v = static_cast<T>(value);
    return detail::map_new<T, T, bool>(s, [v](T a, bool m) { return m ? v : a; }, x, mask);
  });
  record(out, "masked_fill", {x}, [mask](const Tensor& g) { return Grads{masked_fill(g, mask, 0.0)}; }, {mask},
         autograd::Backward::differentiable);
  return out;
}

// ---------------------------------------------------------------- comparisons

namespace {

template <class F> Tensor compare(const char* op, const Tensor& a0, const Tensor& b0, F f) {
  const auto [a, b] = detail::promoted(a0, b0);
  Shape s = detail::binary_shape(a, b, op);
  return dispatch_all(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return detail::map_new<bool, T, T>(s, [f](T x, T y) { return static_cast<bool>(f(x, y)); }, a, b);
  });
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", a, b, [](auto x, auto y) { return x == y; }); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare("ne", a, b, [](auto x, auto y) { return x != y; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", a, b, [](auto x, auto y) { return x < y; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", a, b, [](auto x, auto y) { return x <= y; }); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", a, b, [](auto x, auto y) { return x > y; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", a, b, [](auto x, auto y) { return x >= y; }); }

Tensor logical_and(const Tensor& a, const Tensor& b) {
  return compare("logical_and", a.to(DType::boolean), b.to(DType::boolean), [](auto x, auto y) { return x && y; });
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return compare("logical_or", a.to(DType::boolean), b.to(DType::boolean), [](auto x, auto y) { return x || y; });
}
Tensor logical_not(const Tensor& a) {
  return dispatch_all(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return detail::map_new<bool, T>(a.sizes(), [](T v) { return !static_cast<bool>(v); }, a);
  });
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  Shape s = broadcast_shapes(a.sizes(), b.sizes(), "allclose");
  Tensor bad = detail::map_new<uint8_t, double, double>(
      s,
      [rtol, atol](double x, double y) {
        if (std::isnan(x) || std::isnan(y)) return uint8_t{1};
        if (x == y) return uint8_t{0};
        return static_cast<uint8_t>(std::abs(x - y) > atol + rtol * std::abs(y));
      },
      a.to(DType::f64), b.to(DType::f64));
  const uint8_t* p = bad.const_data<uint8_t>();
  for (int64_t i = 0; i < bad.numel(); ++i)
    if (p[i]) return false;
  return true;
}

// ---------------------------------------------------------------- operators

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor integer_scalar_like(int64_t v, const Tensor& like) {
  if (is_floating(like.dtype())) return scalar_like(static_cast<double>(v), like);
  return from_vector<int64_t>({v}).reshape({});  // exact: a double would round beyond 2^53
}

Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, double b) { return lt(a, scalar_like(b, a)); }
Tensor operator<=(const Tensor& a, double b) { return le(a, scalar_like(b, a)); }
Tensor operator>(const Tensor& a, double b) { return gt(a, scalar_like(b, a)); }
Tensor operator>=(const Tensor& a, double b) { return ge(a, scalar_like(b, a)); }
Tensor operator==(const Tensor& a, double b) { return eq(a, scalar_like(b, a)); }
Tensor operator!=(const Tensor& a, double b) { return ne(a, scalar_like(b, a)); }

// ---------------------------------------------------------------- methods and in-place

Tensor Tensor::exp() const { return nabla::exp(*this); }
Tensor Tensor::log() const { return nabla::log(*this); }
Tensor Tensor::abs() const { return nabla::abs(*this); }
Tensor Tensor::sqrt() const { return nabla::sqrt(*this); }
Tensor Tensor::pow(double e) const { return nabla::pow(*this, e); }
Tensor Tensor::neg() const { return nabla::neg(*this); }

namespace {

// In-place a = f(a, b) with b broadcast to a's shape; `oop` is the out-of-place op.
using BinaryOp = Tensor (*)(const Tensor&, const Tensor&);
template <class F>
Tensor& binary_inplace(Tensor& self, const Tensor& other, const char* op, F f, BinaryOp oop, kernels::Binary vop) {
  if (other.impl_ptr() == self.impl_ptr() && autograd::needs_grad({self})) {
    // x.op_(x): the recorded node must not hold x itself, whose history it becomes.
    Tensor copy = other.clone();
    return binary_inplace(self, copy, op, f, oop, vop);
  }
  detail::check_inplace_overlap(self, {other}, op);  // before any conversion copies `other`
  const DType rt = result_type(self, other);
  NABLA_CHECK(is_floating(self.dtype()) || !is_floating(rt),
              "{}: result type {} can't be cast to the desired output type {}", op, dtype_name(rt),
              dtype_name(self.dtype()));
  if (other.dtype() != self.dtype()) return binary_inplace(self, other.to(self.dtype()), op, f, oop, vop);
  Shape s = detail::binary_shape(self, other, op);
  NABLA_CHECK(s == self.sizes(), "{}: operand of shape {} does not broadcast to the in-place shape {}", op,
              shape_str(other.sizes()), shape_str(self.sizes()));
  return detail::apply_inplace(
      self, op, {other}, [&](const Tensor& a) { return oop(a, other); },
      compute_dtype(self.dtype()) != self.dtype() ? std::function<void()>() : [&] {
        dispatch_native(self.dtype(), op, [&](auto tag) {
          using T = typename decltype(tag)::type;
          auto fn = [f](T x, T y) { return static_cast<T>(f(x, y)); };
          if constexpr (std::is_floating_point_v<T>)
            detail::map_into_vec<T, T, T>(self, fn, detail::BinaryVec<T>{vop}, self, other);
          else
            detail::map_into<T, T, T>(self, fn, self, other);
        });
      });
}

// A C++ scalar written into self: a whole number into an integer tensor keeps
// its dtype (as a Python int would: counters do x.add_(1)); a fraction makes
// the result type floating, which binary_inplace refuses for integer self.
Tensor inplace_scalar(double v, const Tensor& self) {
  return is_floating(self.dtype()) || v != std::trunc(v) ? scalar_like(v, self) : scalar_tensor(v, self.dtype());
}

Tensor add1(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor sub1(const Tensor& a, const Tensor& b) { return sub(a, b); }

}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  if (alpha == 1.0) return binary_inplace(*this, other, "add_", [](auto x, auto y) { return x + y; }, add1, kernels::Binary::add);
  return add_(mul(other, alpha));
}
Tensor& Tensor::add_(double v) { return add_(inplace_scalar(v, *this)); }
Tensor& Tensor::sub_(const Tensor& other) {
  return binary_inplace(*this, other, "sub_", [](auto x, auto y) { return x - y; }, sub1, kernels::Binary::sub);
}
Tensor& Tensor::sub_(double v) { return sub_(inplace_scalar(v, *this)); }
Tensor& Tensor::mul_(const Tensor& other) {
  return binary_inplace(*this, other, "mul_", [](auto x, auto y) { return x * y; }, mul, kernels::Binary::mul);
}
Tensor& Tensor::mul_(double v) { return mul_(inplace_scalar(v, *this)); }
Tensor& Tensor::div_(const Tensor& other) {
  NABLA_CHECK(is_floating(dtype()), "div_: expected a floating tensor, got {}", dtype_name(dtype()));
  return binary_inplace(*this, other, "div_", [](auto x, auto y) { return x / y; }, div, kernels::Binary::div);
}
Tensor& Tensor::div_(double v) { return div_(inplace_scalar(v, *this)); }

Tensor& Tensor::clamp_(std::optional<double> lo, std::optional<double> hi) {
  return detail::apply_inplace(*this, "clamp_", {}, [lo, hi](const Tensor& s) { return clamp(s, lo, hi); });
}

Tensor& Tensor::fill_(double v) {
  return detail::apply_inplace(
      *this, "fill_", {}, [v](const Tensor& s) { return full_like(s, v).detach(); },
      [&] {
        dispatch_all(dtype(), [&](auto tag) {
          using T = typename decltype(tag)::type;
          T tv = static_cast<T>(v);
          detail::map_into<T>(*this, [tv]() { return tv; });
        });
      });
}

Tensor& Tensor::zero_() { return fill_(0.0); }

Tensor& Tensor::copy_(const Tensor& src) {
  NABLA_CHECK(broadcast_shapes(sizes(), src.sizes(), "copy_") == sizes(),
              "copy_: source of shape {} does not broadcast to destination shape {}", shape_str(src.sizes()),
              shape_str(sizes()));
  DType dt = dtype();
  Shape s = sizes();
  return detail::apply_inplace(
      *this, "copy_", {src}, [src, dt, s](const Tensor&) { return src.to(dt).expand(s).contiguous(); },
      [&] { detail::copy_raw(*this, src); });
}

Tensor& Tensor::masked_fill_(const Tensor& mask, double value) {
  return detail::apply_inplace(*this, "masked_fill_", {},
                               [&](const Tensor& s) { return masked_fill(s, mask, value); });
}

}  // namespace nabla
