// Reductions. Every reduction is laid out as M rows of R contiguous elements
// (reduced dims moved last) and a per-row kernel; sums over leading dims (bias
// gradients) take a column-accumulating fast path instead of a transposing copy.
#include "nabla/ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/reduce_rows.h"
#include "kernels/cpu/row_loops.h"
#include "kernels/cpu/vec/table.h"
#include "tensor/copy.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/index.h"
#include "nabla/tensor/factory.h"
#include "ops/restride.h"
#include "tensor/copy.h"

namespace nabla {

using autograd::record;
using Grads = std::vector<Tensor>;

namespace {

struct ReducePlan {
  std::vector<bool> reduced;  // per input dim
  Shape dims;                 // the reduced dims, ascending
  Shape keep_shape;           // output shape with keepdim=true
  Shape out_shape;            // output shape as requested
  int64_t M = 1, R = 1;       // rows kept, elements per row
  bool leading = false;       // the reduced dims are exactly dims 0..k-1
  bool trailing = false;      // the reduced dims are exactly dims k..n-1
};

ReducePlan make_plan(const Tensor& x, const Shape& dims, bool keepdim, const char* op) {
  ReducePlan p;
  int64_t nd = x.dim();
  p.reduced.assign(nd, dims.empty());
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, nd, op);
    NABLA_CHECK(nd == 0 || !p.reduced[w], "{}: dim {} appears twice in {}", op, w, shape_str(dims));
    if (nd > 0) p.reduced[w] = true;
  }
  for (int64_t d = 0; d < nd; ++d) {
    int64_t s = x.sizes()[d];
    if (p.reduced[d]) {
      p.dims.push_back(d);
      p.R *= s;
      p.keep_shape.push_back(1);
      if (keepdim) p.out_shape.push_back(1);
    } else {
      p.M *= s;
      p.keep_shape.push_back(s);
      p.out_shape.push_back(s);
    }
  }
  int64_t k = 0;
  while (k < nd && p.reduced[k]) ++k;
  p.leading = true;
  for (int64_t d = k; d < nd; ++d) p.leading &= !p.reduced[d];
  int64_t t = nd;
  while (t > 0 && p.reduced[t - 1]) --t;
  p.trailing = true;
  for (int64_t d = 0; d < t; ++d) p.trailing &= !p.reduced[d];
  return p;
}

// x as a contiguous [M, R] buffer (kept dims first, reduced dims last).
Tensor as_rows(const Tensor& x, const ReducePlan& p) {
  if (p.trailing && x.is_contiguous()) return x;
  Shape perm_sizes, perm_strides;
  for (int pass = 0; pass < 2; ++pass)
    for (int64_t d = 0; d < x.dim(); ++d)
      if (p.reduced[d] == (pass == 1)) {
        perm_sizes.push_back(x.sizes()[d]);
        perm_strides.push_back(x.strides()[d]);
      }
  Tensor v = detail::restride(x, perm_sizes, perm_strides, x.offset());
  Tensor c = Tensor::empty(perm_sizes, x.dtype());
  detail::copy_raw(c, v);
  return c;
}

// The gradient of a reduction output, broadcast back over the input's shape.
Tensor expand_grad(const Tensor& g, const ReducePlan& p, const Shape& in_shape) {
  return g.reshape(p.keep_shape).expand(in_shape);
}

Tensor sum_impl(const Tensor& x, const ReducePlan& p) {
  // As PyTorch: bool and the integers sum to i64; 16-bit floats accumulate in f32 and round once.
  if (!is_floating(x.dtype()) && x.dtype() != DType::i64) return sum_impl(detail::cast_raw(x, DType::i64), p);
  if (is_reduced_float(x.dtype())) return detail::cast_raw(sum_impl(detail::cast_raw(x, DType::f32), p), x.dtype());
  Tensor out = Tensor::empty(p.out_shape, x.dtype());
  dispatch_numeric(x.dtype(), "sum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.data<T>();
    if (p.leading && !p.trailing && x.is_contiguous()) {  // R rows of M values
      const T* in = x.const_data<T>();
      if constexpr (std::is_floating_point_v<T>) {
        std::vector<double> acc = kernels::column_sums<1, T>(p.R, p.M, [&](int64_t r0, int64_t r1, T* a) {
          kernels::vec_for<T>().col_sum(r1 - r0, p.M, in + r0 * p.M, a);
        });
        for (int64_t m = 0; m < p.M; ++m) o[m] = static_cast<T>(acc[m]);
      } else {
        std::vector<int64_t> acc(p.M, 0);
        kernels::add_rows_into(in, p.R, p.M, acc.data());
        for (int64_t m = 0; m < p.M; ++m) o[m] = static_cast<T>(acc[m]);
      }
      return;
    }
    Tensor rows = as_rows(x, p);
    const T* in = rows.const_data<T>();
    if constexpr (std::is_floating_point_v<T>) {
      kernels::parallel_ranges(p.M, p.M * p.R, [&](int64_t m0, int64_t m1) {
        kernels::vec_for<T>().reduce_rows(kernels::RowReduce::sum, m1 - m0, p.R, 0.0, in + m0 * p.R, o + m0);
      });
    } else {
      kernels::parallel_for(p.M, p.R, [&](int64_t m) { o[m] = static_cast<T>(kernels::row_sum(in + m * p.R, p.R)); });
    }
  });
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim) {
  ReducePlan p = make_plan(x, dims, keepdim, "sum");
  Tensor out = sum_impl(x, p);
  record(out, "sum", {x},
         [p, in = x.sizes()](const Tensor& g) { return Grads{expand_grad(g, p, in)}; }, {},
         autograd::Backward::differentiable);
  return out;
}
Tensor sum(const Tensor& x) { return sum(x, {}, false); }

Tensor mean(const Tensor& x, const Shape& dims, bool keepdim) {
  NABLA_CHECK(is_floating(x.dtype()), "mean: expected a floating tensor, got {}", dtype_name(x.dtype()));
  ReducePlan p = make_plan(x, dims, keepdim, "mean");
  Tensor out;
  {
    NoGradGuard ng;
    const DType compute = is_reduced_float(x.dtype()) ? DType::f32 : x.dtype();
    out = sum_impl(detail::cast_raw(x, compute), p);
    out.div_(static_cast<double>(p.R));
    out = detail::cast_raw(out, x.dtype());
  }
  double R = static_cast<double>(p.R);
  record(out, "mean", {x},
         [p, R, in = x.sizes()](const Tensor& g) { return Grads{expand_grad(div(g, full({}, R, g.dtype())), p, in)}; },
         {}, autograd::Backward::differentiable);
  return out;
}
Tensor mean(const Tensor& x) { return mean(x, {}, false); }


namespace {

// The dispatched row reduction `op` of floating x over the plan's dims.
Tensor reduce_rows(const char* name, const Tensor& x, const ReducePlan& p, kernels::RowReduce op, double arg) {
  if (is_reduced_float(x.dtype()))
    return detail::cast_raw(reduce_rows(name, detail::cast_raw(x, DType::f32), p, op, arg), x.dtype());
  Tensor out = Tensor::empty(p.out_shape, x.dtype());
  dispatch_floating(x.dtype(), name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor rows = as_rows(x, p);
    const T* in = rows.const_data<T>();
    T* o = out.data<T>();
    kernels::parallel_ranges(p.M, p.M * p.R, [&](int64_t m0, int64_t m1) {
      kernels::vec_for<T>().reduce_rows(op, m1 - m0, p.R, arg, in + m0 * p.R, o + m0);
    });
  });
  return out;
}

}  // namespace

Tensor var(const Tensor& x, const Shape& dims, bool unbiased, bool keepdim) {
  ReducePlan p = make_plan(x, dims, keepdim, "var");
  double ddof = unbiased ? 1.0 : 0.0;
  Tensor out = reduce_rows("var", x, p, kernels::RowReduce::var, ddof);
  record(
      out, "var", {x},
      [x, p, ddof](const Tensor& g) {
        Tensor centered = sub(x, mean(x, p.dims, true));
        return Grads{mul(expand_grad(g, p, x.sizes()), mul(centered, 2.0 / (static_cast<double>(p.R) - ddof)))};
      },
      {x});
  return out;
}

Tensor std(const Tensor& x, const Shape& dims, bool unbiased, bool keepdim) {
  ReducePlan p = make_plan(x, dims, keepdim, "std");
  double ddof = unbiased ? 1.0 : 0.0;
  Tensor out = reduce_rows("std", x, p, kernels::RowReduce::std, ddof);
  Tensor y = out.detach();
  record(
      out, "std", {x},
      [x, y, p, ddof](const Tensor& g) {
        Tensor centered = sub(x, mean(x, p.dims, true));
        Tensor scale = div(g, mul(y, static_cast<double>(p.R) - ddof));
        return Grads{mul(expand_grad(scale, p, x.sizes()), centered)};
      },
      {x, out});
  return out;
}

namespace {

// Max (or min) over the plan's dims; optionally the index within each row.
std::pair<Tensor, Tensor> extreme(const char* op, const Tensor& x, const ReducePlan& p, bool is_max,
                                  bool want_index) {
  NABLA_CHECK(p.R > 0, "{}: cannot reduce over an empty dim (input shape {})", op, shape_str(x.sizes()));
  if (is_reduced_float(x.dtype())) {  // in f32 for NaN propagation; the extremes convert back exactly
    auto [v, i] = extreme(op, detail::cast_raw(x, DType::f32), p, is_max, want_index);
    return {detail::cast_raw(v, x.dtype()), i};
  }
  Tensor values = Tensor::empty(p.out_shape, x.dtype());
  Tensor index = want_index ? Tensor::empty(p.out_shape, DType::i64) : Tensor();
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor rows = as_rows(x, p);
    const T* in = rows.const_data<T>();
    T* v = values.data<T>();
    int64_t* ix = want_index ? index.data<int64_t>() : nullptr;
    kernels::parallel_for(p.M, p.R, [&](int64_t m) {
      const int64_t best = kernels::row_extreme_index(in + m * p.R, p.R, is_max);
      v[m] = in[m * p.R + best];
      if (ix) ix[m] = best;
    });
  });
  return {values, index};
}

// amax/amin: the gradient is split evenly among the elements equal to the extreme.
Tensor extreme_values(const char* op, const Tensor& x, const Shape& dims, bool keepdim, bool is_max) {
  ReducePlan p = make_plan(x, dims, keepdim, op);
  Tensor out = extreme(op, x, p, is_max, false).first;
  Tensor y = out.detach();
  record(
      out, op, {x},
      [x, y, p](const Tensor& g) {
        Tensor hit = eq(x, y.reshape(p.keep_shape)).to(x.dtype());
        Tensor count = sum(hit, p.dims, true);
        return Grads{mul(div(g.reshape(p.keep_shape), count), hit)};
      },
      {x, out});
  return out;
}

std::pair<Tensor, Tensor> extreme_dim(const char* op, const Tensor& x, int64_t dim, bool keepdim, bool is_max) {
  dim = wrap_dim(dim, x.dim(), op);
  ReducePlan p = make_plan(x, x.dim() == 0 ? Shape{} : Shape{dim}, keepdim, op);
  auto [values, index] = extreme(op, x, p, is_max, true);
  record(
      values, op, {x},
      [index, p, dim, in = x.sizes(), dt = x.dtype()](const Tensor& g) {
        if (in.empty()) return Grads{g};
        return Grads{scatter_add(zeros(in, dt), dim, index.reshape(p.keep_shape), g.reshape(p.keep_shape))};
      });
  return {values, index};
}

}  // namespace

Tensor max(const Tensor& x) { return extreme_values("max", x, {}, false, true); }
Tensor min(const Tensor& x) { return extreme_values("min", x, {}, false, false); }
Tensor amax(const Tensor& x, const Shape& dims, bool keepdim) { return extreme_values("amax", x, dims, keepdim, true); }
Tensor amin(const Tensor& x, const Shape& dims, bool keepdim) {
  return extreme_values("amin", x, dims, keepdim, false);
}
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_dim("max", x, dim, keepdim, true);
}
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_dim("min", x, dim, keepdim, false);
}
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  NoGradGuard ng;
  return extreme_dim("argmax", x, dim, keepdim, true).second;
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  NoGradGuard ng;
  return extreme_dim("argmin", x, dim, keepdim, false).second;
}

Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim) {
  ReducePlan p = make_plan(x, dims, keepdim, "logsumexp");
  Tensor out = reduce_rows("logsumexp", x, p, kernels::RowReduce::logsumexp, 0.0);
  Tensor y = out.detach();
  record(
      out, "logsumexp", {x},
      [x, y, p](const Tensor& g) {
        return Grads{mul(expand_grad(g, p, x.sizes()), exp(sub(x, y.reshape(p.keep_shape))))};
      },
      {x, out});
  return out;
}

Tensor norm(const Tensor& x, double pw, const Shape& dims, bool keepdim) {
  NABLA_CHECK(pw > 0, "norm: p must be positive, got {}", pw);
  ReducePlan p = make_plan(x, dims, keepdim, "norm");
  Tensor out = reduce_rows("norm", x, p, kernels::RowReduce::norm, pw);
  Tensor y = out.detach();
  record(
      out, "norm", {x},
      [x, y, p, pw](const Tensor& g) {
        Tensor yk = y.reshape(p.keep_shape);
        Tensor gk = g.reshape(p.keep_shape);
        Tensor gx;
        if (std::isinf(pw)) {
          Tensor hit = eq(abs(x), yk).to(x.dtype());
          gx = mul(mul(sign(x), hit), div(gk, sum(hit, p.dims, true)));
        } else if (pw == 1.0) {
          gx = mul(sign(x), gk);
        } else {
          // d||x||_p / dx = sign(x) |x|^(p-1) / ||x||_p^(p-1); zero where the norm is zero.
          Tensor num = mul(sign(x), pow(abs(x), pw - 1.0));
          Tensor den = pow(yk, pw - 1.0);
          gx = masked_fill(mul(div(num, den), gk), eq(yk, zeros({}, x.dtype())), 0.0);
        }
        return Grads{gx};
      },
      {x, out});
  return out;
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.sizes() == shape) return g;
  size_t lead = g.sizes().size() - shape.size();
  NABLA_CHECK(g.sizes().size() >= shape.size(), "sum_to: cannot reduce shape {} to {}", shape_str(g.sizes()),
              shape_str(shape));
  Shape dims;
  for (size_t i = 0; i < g.sizes().size(); ++i) {
    if (i < lead || (shape[i - lead] == 1 && g.sizes()[i] != 1)) dims.push_back(static_cast<int64_t>(i));
  }
  if (dims.empty()) return g.reshape(shape);
  return sum(g, dims, true).reshape(shape);
}

Tensor Tensor::sum() const { return nabla::sum(*this); }
Tensor Tensor::sum(const Shape& dims, bool keepdim) const { return nabla::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return nabla::mean(*this); }
Tensor Tensor::mean(const Shape& dims, bool keepdim) const { return nabla::mean(*this, dims, keepdim); }
Tensor Tensor::argmax(int64_t dim, bool keepdim) const { return nabla::argmax(*this, dim, keepdim); }

}  // namespace nabla
