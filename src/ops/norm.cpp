// Normalizations share one primitive: normalize the rows of an [M, R] matrix
// to zero mean and unit variance, with a fused backward. The per-channel affine
// transform is done with broadcasting ops on top.
#include "nabla/ops/norm.h"
#include "nabla/ops/trace.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/row_loops.h"
#include "kernels/cpu/vec/table.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/ops/elementwise.h"
#include "nabla/ops/reduce.h"
#include "nabla/tensor/factory.h"
#include "nabla/tensor/layout.h"
#include "ops/norm_shape.h"
#include "ops/reduced.h"

namespace nabla {

using autograd::record;
using Grads = std::vector<Tensor>;

namespace {

struct Normalized {
  Tensor xhat;  // [M, R]
  Tensor mean;  // [M]
  Tensor var;   // [M], biased
};

// (x - mean) / sqrt(var + eps) over `dims`, from recorded (twice differentiable)
// ops: the reference the fused kernels' second derivatives come from.
Tensor normalized_composite(const Tensor& x, const Shape& dims, double eps) {
  Tensor c = sub(x, mean(x, dims, true));
  return mul(c, pow(add(mean(mul(c, c), dims, true), eps), -0.5));
}

// xhat = (x - mean) / sqrt(var + eps) per row of x [M, R].
Normalized normalize_rows(const Tensor& x, double eps, const char* op) {
  NABLA_CHECK(x.dim() == 2, "internal: normalize_rows expects [M, R]");
  int64_t M = x.sizes()[0], R = x.sizes()[1];
  NABLA_CHECK(R > 0, "{}: nothing to normalize over (input {})", op, shape_str(x.sizes()));
  Tensor xc = x.detach().contiguous();
  Normalized n{Tensor::empty({M, R}, x.dtype()), Tensor::empty({M}, x.dtype()), Tensor::empty({M}, x.dtype())};
  Tensor rstd = Tensor::empty({M}, x.dtype());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = xc.const_data<T>();
    T *o = n.xhat.data<T>(), *mu = n.mean.data<T>(), *va = n.var.data<T>(), *rs = rstd.data<T>();
    kernels::parallel_ranges(M, M * R, [&](int64_t m0, int64_t m1) {
      kernels::vec_for<T>().norm_rows(m1 - m0, R, in + m0 * R, eps, true, o + m0 * R, mu + m0, va + m0, rs + m0);
    });
  });
  Tensor xhat = n.xhat.detach();
  record(
      n.xhat, op, {x},
      [x, xhat, rstd, M, R, eps](const Tensor& g) {
        if (grad_enabled())  // create_graph: differentiate the composite form instead
          return autograd::composite_backward(
              [eps](const std::vector<Tensor>& in) { return normalized_composite(in[0], {1}, eps); }, {x}, g);
        // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), per row.
        Tensor gc = g.contiguous();
        Tensor gx = Tensor::empty({M, R}, g.dtype());
        dispatch_floating(g.dtype(), "normalize", [&](auto tag) {
          using T = typename decltype(tag)::type;
          const T *gp = gc.const_data<T>(), *xh = xhat.const_data<T>(), *rs = rstd.const_data<T>();
          T* out = gx.data<T>();
          kernels::parallel_ranges(M, M * R, [&](int64_t m0, int64_t m1) {
            kernels::vec_for<T>().norm_rows_backward(m1 - m0, R, gp + m0 * R, xh + m0 * R, rs + m0, true, out + m0 * R);
          });
        });
        return Grads{gx};
      },
      {n.xhat}, autograd::Backward::differentiable);
  return n;
}

// Shape [1, C, 1, ..., 1] that broadcasts a per-channel vector over [N, C, *].
Shape channel_shape(const Tensor& x) {
  Shape s(x.dim(), 1);
  s[1] = x.sizes()[1];
  return s;
}

void check_channel_vec(const Tensor& v, int64_t C, const char* what, const char* op) {
  if (!v.defined()) return;
  NABLA_CHECK(v.dim() == 1 && v.sizes()[0] == C, "{}: {} {} must be [{}] (one per channel)", op, what,
              shape_str(v.sizes()), C);
}

Tensor affine(Tensor y, const Tensor& w, const Tensor& b, const Shape& shape) {
  if (w.defined()) y = mul(y, w.reshape(shape));
  if (b.defined()) y = add(y, b.reshape(shape));
  return y;
}

}  // namespace

namespace {

// Training-mode batch norm: one pass over the data for each statistic and one
// for the output, on a planar [N, C, L] or a channels-last batch (M = N L rows
// of C) alike. The layouts differ only in the kernels that walk the memory
// (vec/channel_planes.cpp along each channel's runs, vec/channel_rows.cpp
// across the channels of a row); the formulas are written once, here:
//   y = x scale + shift,  scale = w rstd,  shift = b - mean scale;
//   dx = k (g - mean(g) - (x - mean) rstd mean(g xhat)),  k = w rstd,
//   dw = sum(g xhat),  db = sum(g)  per channel.
struct BnStats {
  Tensor mean, rstd, var;  // [C]
  static BnStats empty(int64_t C, DType dtype) {
    return {Tensor::empty({C}, dtype), Tensor::empty({C}, dtype), Tensor::empty({C}, dtype)};
  }
};

// The passes over x [N, C, L] of one layout, in dtype T.
template <class T> struct BnPasses {
  bool channels_last;
  int64_t N, C, L;
  const kernels::TypedKernels<T>& vk = kernels::vec_for<T>();

  int64_t rows() const { return N * L; }
  const T* plane(const T* p, int64_t c) const { return p + c * L; }
  T* plane(T* p, int64_t c) const { return p + c * L; }

  // Per-channel sums of x, and of (x - mean)^2.
  std::vector<double> sums(const T* x) const {
    if (channels_last)
      return kernels::column_sums<1, T>(rows(), C, [&](int64_t r0, int64_t r1, T* acc) {
        vk.col_sum(r1 - r0, C, x + r0 * C, acc);
      });
    std::vector<double> s(C);
    kernels::parallel_for(C, rows(), [&](int64_t c) { s[c] = vk.plane_sum(N, L, C * L, plane(x, c)); });
    return s;
  }
  std::vector<double> sq_devs(const T* x, const std::vector<double>& mean) const {
    if (channels_last) {
      std::vector<T> mt(mean.begin(), mean.end());
      return kernels::column_sums<1, T>(rows(), C, [&](int64_t r0, int64_t r1, T* acc) {
        vk.col_sum_sqdev(r1 - r0, C, x + r0 * C, mt.data(), acc);
      });
    }
    std::vector<double> s(C);
    kernels::parallel_for(C, rows(), [&](int64_t c) { s[c] = vk.plane_sum_sqdev(N, L, C * L, plane(x, c), mean[c]); });
    return s;
  }
  void affine(const T* x, const T* scale, const T* shift, T* y) const {
    if (channels_last)
      return kernels::for_row_ranges(rows(), C, [&](int64_t r0, int64_t r1) {
        vk.rows_affine(r1 - r0, C, x + r0 * C, scale, shift, y + r0 * C);
      });
    kernels::parallel_for(C, rows(), [&](int64_t c) {
      vk.plane_affine(N, L, C * L, plane(x, c), scale[c], shift[c], plane(y, c));
    });
  }
  // s[c] = sum of g, s[C + c] = sum of g xhat.
  std::vector<double> grad_sums(const T* g, const T* x, const T* mean, const T* rstd) const {
    if (channels_last)
      return kernels::column_sums<2, T>(rows(), C, [&](int64_t r0, int64_t r1, T* acc) {
        vk.col_sum_bn_grad(r1 - r0, C, g + r0 * C, x + r0 * C, mean, rstd, acc);
      });
    std::vector<double> s(2 * C);
    kernels::parallel_for(C, 2 * rows(), [&](int64_t c) {
      double two[2];
      vk.plane_bn_grad(N, L, C * L, plane(g, c), plane(x, c), mean[c], rstd[c], two);
      s[c] = two[0];
      s[C + c] = two[1];
    });
    return s;
  }
  void dx(const T* g, const T* x, const T* mean, const T* k, const T* mg, const T* mgx, T* d) const {
    if (channels_last)
      return kernels::for_row_ranges(rows(), C, [&](int64_t r0, int64_t r1) {
        vk.rows_bn_dx(r1 - r0, C, g + r0 * C, x + r0 * C, mean, k, mg, mgx, d + r0 * C);
      });
    kernels::parallel_for(C, rows(), [&](int64_t c) {
      vk.plane_bn_dx(N, L, C * L, plane(g, c), plane(x, c), mean[c], k[c], mg[c], mgx[c], plane(d, c));
    });
  }
};

template <class T> const T* data_or_null(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

// `reduce` (optional) sums per-channel statistics over more than this batch (sync batch norm over ranks): the
// sums of x with the count appended, the squared deviations, and backward's two gradient sums. *count gets the
// total count. The parameters' gradients stay this batch's part (summed over ranks with the other gradients).
Tensor batch_norm_train(const Tensor& x, const Tensor& w, const Tensor& b, double eps, BnStats* st,
                        const ChannelSumReducer* reduce = nullptr, double* count = nullptr) {
  const int64_t N = x.sizes()[0], C = x.sizes()[1], L = x.numel() / (N * C);
  const bool cl = is_channels_last(x) && !x.is_contiguous();
  Tensor xc = cl ? x.detach() : x.detach().contiguous();
  Tensor y = empty_like_layout(xc, x.dtype());
  *st = BnStats::empty(C, x.dtype());
  Tensor wc = w.defined() ? w.detach().contiguous() : Tensor();
  dispatch_floating(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const BnPasses<T> pass{cl, N, C, L};
    const T* in = xc.const_data<T>();
    Tensor bc = b.defined() ? b.detach().contiguous() : Tensor();
    const T *wp = data_or_null<T>(wc), *bp = data_or_null<T>(bc);
    double cnt = static_cast<double>(N * L);
    std::vector<double> mean = pass.sums(in);
    if (reduce) {
      mean.push_back(cnt);
      (*reduce)(mean);
      cnt = mean.back();
      mean.pop_back();
      NABLA_CHECK(cnt > 1, "sync batch_norm: expected more than 1 value per channel over all ranks, got {}", cnt);
    }
    if (count) *count = cnt;
    for (double& m : mean) m /= cnt;
    std::vector<double> var = pass.sq_devs(in, mean);
    if (reduce) (*reduce)(var);
    std::vector<T> scale(C), shift(C);
    for (int64_t c = 0; c < C; ++c) {
      var[c] /= cnt;
      const double rstd = 1.0 / std::sqrt(var[c] + eps);
      scale[c] = static_cast<T>(wp ? wp[c] * rstd : rstd);
      shift[c] = static_cast<T>((bp ? bp[c] : 0.0) - mean[c] * scale[c]);
      st->mean.data<T>()[c] = static_cast<T>(mean[c]);
      st->rstd.data<T>()[c] = static_cast<T>(rstd);
      st->var.data<T>()[c] = static_cast<T>(var[c]);
    }
    pass.affine(in, scale.data(), shift.data(), y.data<T>());
  });
  bool gx = x.requires_grad(), gw = w.defined() && w.requires_grad(), gb = b.defined() && b.requires_grad();
  Tensor mean = st->mean, rstd = st->rstd;
  std::optional<ChannelSumReducer> red;
  if (reduce) red = *reduce;
  const double total = count ? *count : static_cast<double>(N * L);
  autograd::record(
      y, "batch_norm", {x, w, b},
      [x, w, b, eps, xc, wc, mean, rstd, N, C, L, cl, gx, gw, gb, red, total](const Tensor& g) {
        NABLA_CHECK(!(red && grad_enabled()), "sync batch_norm: second derivatives (create_graph) are not supported");
        if (grad_enabled()) {  // create_graph: differentiate the composite form instead
          return autograd::composite_backward(
              [eps](const std::vector<Tensor>& in) {
                Shape dims{0}, cs(in[0].dim(), 1);
                for (int64_t d = 2; d < in[0].dim(); ++d) dims.push_back(d);
                cs[1] = in[0].size(1);
                Tensor y = normalized_composite(in[0], dims, eps);
                if (in[1].defined()) y = mul(y, in[1].reshape(cs));
                if (in[2].defined()) y = add(y, in[2].reshape(cs));
                return y;
              },
              {x, w, b}, g);
        }
        Tensor gc = cl ? channels_last_copy(g) : g.contiguous();
        Tensor dx = gx ? empty_like_layout(xc, g.dtype()) : Tensor();
        Tensor dw = Tensor::empty({C}, g.dtype()), db = Tensor::empty({C}, g.dtype());
        dispatch_floating(g.dtype(), "batch_norm", [&](auto tag) {
          using T = typename decltype(tag)::type;
          const BnPasses<T> pass{cl, N, C, L};
          const T *gp = gc.const_data<T>(), *in = xc.const_data<T>(), *mp = mean.const_data<T>(), *rp = rstd.const_data<T>();
          const T* wp = data_or_null<T>(wc);
          const double cnt = total;
          std::vector<double> sums = pass.grad_sums(gp, in, mp, rp);
          for (int64_t c = 0; c < C; ++c) {
            dw.data<T>()[c] = static_cast<T>(sums[C + c]);
            db.data<T>()[c] = static_cast<T>(sums[c]);
          }
          if (red) (*red)(sums);  // dx needs the whole batch's sums; dw and db stay this part's
          std::vector<T> k(C), mg(C), mgx(C);
          for (int64_t c = 0; c < C; ++c) {
            k[c] = static_cast<T>((wp ? wp[c] : 1.0) * rp[c]);
            mg[c] = static_cast<T>(sums[c] / cnt);
            mgx[c] = static_cast<T>(sums[C + c] / cnt * rp[c]);
          }
          if (gx) pass.dx(gp, in, mp, k.data(), mg.data(), mgx.data(), dx.data<T>());
        });
        return Grads{dx, gw ? dw : Tensor(), gb ? db : Tensor()};
      },
      {x}, autograd::Backward::differentiable);
  return y;
}

}  // namespace

namespace {

// The checks every batch norm makes of its arguments.
void check_batch_norm_args(const Tensor& x, const Tensor& rm, const Tensor& rv, const Tensor& w, const Tensor& b,
                           const char* op) {
  NABLA_CHECK(x.dim() >= 2, "{}: expected input [N, C, *], got {}", op, shape_str(x.sizes()));
  int64_t C = x.sizes()[1];
  check_channel_vec(rm, C, "running_mean", op);
  check_channel_vec(rv, C, "running_var", op);
  check_channel_vec(w, C, "weight", op);
  check_channel_vec(b, C, "bias", op);
  for (const Tensor* t : {&w, &b, &rm, &rv})
    if (t->defined())
      NABLA_CHECK(t->dtype() == x.dtype(), "{}: parameter dtype {} differs from input dtype {}", op,
                  dtype_name(t->dtype()), dtype_name(x.dtype()));
}

// Training's batch statistics (of `count` values per channel) into the running ones, with the unbiased variance.
void update_running_stats(const Tensor& rm, const Tensor& rv, const BnStats& st, double momentum, double count) {
  if (!rm.defined() || !rv.defined()) return;
  NoGradGuard ng;
  Tensor rmv = rm, rvv = rv;
  rmv.mul_(1.0 - momentum).add_(mul(st.mean, momentum));
  rvv.mul_(1.0 - momentum).add_(mul(st.var, momentum * count / (count - 1.0)));
}

}  // namespace

Tensor batch_norm_reduced(const Tensor& x, const Tensor& rm, const Tensor& rv, const Tensor& w, const Tensor& b,
                          double momentum, double eps, const ChannelSumReducer& reduce) {
  NABLA_CHECK(reduce, "batch_norm_reduced: no reducer");
  NABLA_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, "batch_norm_reduced: f32 or f64, got {}",
              dtype_name(x.dtype()));
  check_batch_norm_args(x, rm, rv, w, b, "batch_norm_reduced");
  BnStats st;
  double count = 0;
  Tensor y = batch_norm_train(x, w, b, eps, &st, &reduce, &count);
  update_running_stats(rm, rv, st, momentum, count);
  return y;
}

static Tensor batch_norm_untraced(const Tensor& x, const Tensor& rm, const Tensor& rv, const Tensor& w, const Tensor& b,
                  bool training, double momentum, double eps) {
  if (is_reduced_float(x.dtype())) {
    // In f32, running statistics included: 16-bit ones are widened, updated and
    // rounded back; f32 ones (the usual case under autocast) update in place.
    const Tensor rm32 = detail::widened(rm).detach(), rv32 = detail::widened(rv).detach();
    Tensor y = detail::in_f32(x.dtype(), [&] {
      return batch_norm(detail::widened(x), rm32, rv32, detail::widened(w), detail::widened(b), training, momentum, eps);
    });
    NoGradGuard ng;
    if (training && rm.defined() && rm32.storage() != rm.storage()) Tensor(rm).copy_(rm32);
    if (training && rv.defined() && rv32.storage() != rv.storage()) Tensor(rv).copy_(rv32);
    return y;
  }
  check_batch_norm_args(x, rm, rv, w, b, "batch_norm");
  int64_t C = x.sizes()[1];
  Shape cs = channel_shape(x);
  if (!training) {
    NABLA_CHECK(rm.defined() && rv.defined(), "batch_norm: evaluation mode needs running_mean and running_var");
    Tensor scale = rsqrt(add(rv, eps)).reshape(cs);
    return affine(mul(sub(x, rm.reshape(cs)), scale), w, b, cs);
  }
  int64_t count = x.numel() / C;
  NABLA_CHECK(count > 1, "batch_norm: expected more than 1 value per channel when training, got input {}",
              shape_str(x.sizes()));
  BnStats st;
  Tensor y = batch_norm_train(x, w, b, eps, &st);
  update_running_stats(rm, rv, st, momentum, static_cast<double>(count));
  return y;
}

Tensor batch_norm(const Tensor& x, const Tensor& rm, const Tensor& rv, const Tensor& w, const Tensor& b,
                  bool training, double momentum, double eps) {
  trace::Scope traced;
  Tensor out = batch_norm_untraced(x, rm, rv, w, b, training, momentum, eps);
  if (traced) {
    traced.done("batch_norm", {x, w, b, rm, rv}, out, {{"training", int64_t(training)}, {"eps", eps}});
  }
  return out;
}

static Tensor layer_norm_untraced(const Tensor& x, const Shape& ns, const Tensor& w, const Tensor& b, double eps) {
  if (auto r = detail::input_entry(
          [&](const Tensor& x_, const Tensor& w_, const Tensor& b_) { return layer_norm(x_, ns, w_, b_, eps); }, x, w, b))
    return *r;
  const int64_t rows = detail::normalized_rows(x, ns, w, b, "layer_norm"), R = shape_numel(ns);
  Normalized n = normalize_rows(x.reshape({rows, R}), eps, "layer_norm");
  Tensor y = n.xhat.reshape(x.sizes());
  if (w.defined()) y = mul(y, w);
  if (b.defined()) y = add(y, b);
  return y;
}

Tensor layer_norm(const Tensor& x, const Shape& ns, const Tensor& w, const Tensor& b, double eps) {
  trace::Scope traced;
  Tensor out = layer_norm_untraced(x, ns, w, b, eps);
  if (traced) {
    traced.done("layer_norm", {x, w, b}, out, {{"normalized_shape", ns}, {"eps", eps}});
  }
  return out;
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& w, const Tensor& b, double eps) {
  if (auto r = detail::input_entry(
          [&](const Tensor& x_, const Tensor& w_, const Tensor& b_) { return group_norm(x_, groups, w_, b_, eps); }, x,
          w, b))
    return *r;
  NABLA_CHECK(x.dim() >= 2, "group_norm: expected input [N, C, *], got {}", shape_str(x.sizes()));
  int64_t N = x.sizes()[0], C = x.sizes()[1];
  NABLA_CHECK(groups >= 1 && C % groups == 0, "group_norm: {} channels are not divisible into {} groups (input {})",
              C, groups, shape_str(x.sizes()));
  check_channel_vec(w, C, "weight", "group_norm");
  check_channel_vec(b, C, "bias", "group_norm");
  const int64_t per_group = (C / groups) * shape_numel(Shape(x.sizes().begin() + 2, x.sizes().end()));
  Normalized n = normalize_rows(x.reshape({N * groups, per_group}), eps, "group_norm");
  return affine(n.xhat.reshape(x.sizes()), w, b, channel_shape(x));
}

namespace {

Tensor dropout_with_mask_shape(const Tensor& x, double p, bool training, Generator* gen, const Shape& mask_shape,
                               const char* op) {
  NABLA_CHECK(p >= 0.0 && p <= 1.0, "{}: p must be in [0, 1], got {}", op, p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, zeros({}, x.dtype()));
  Tensor keep = ge(rand(mask_shape, x.dtype(), gen), full({}, p, x.dtype())).to(x.dtype());
  return mul(x, mul(keep, 1.0 / (1.0 - p)));
}

}  // namespace

static Tensor dropout_untraced(const Tensor& x, double p, bool training, Generator* gen) {
  return dropout_with_mask_shape(x, p, training, gen, x.sizes(), "dropout");
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  trace::Scope traced;
  Tensor out = dropout_untraced(x, p, training, gen);
  if (traced) {
    traced.done("dropout", {x}, out, {{"p", p}, {"training", int64_t(training)}});
  }
  return out;
}

Tensor dropout2d(const Tensor& x, double p, bool training, Generator* gen) {
  NABLA_CHECK(x.dim() >= 3, "dropout2d: expected input [N, C, H, W] (or [N, C, L]), got {}", shape_str(x.sizes()));
  Shape ms(x.dim(), 1);
  ms[0] = x.sizes()[0];
  ms[1] = x.sizes()[1];
  return dropout_with_mask_shape(x, p, training, gen, ms, "dropout2d");
}

Tensor drop_path(const Tensor& x, double p, bool training, Generator* gen) {
  NABLA_CHECK(x.dim() >= 1, "drop_path: expected a batch [N, ...], got a scalar");
  Shape ms(x.dim(), 1);
  ms[0] = x.sizes()[0];
  return dropout_with_mask_shape(x, p, training, gen, ms, "drop_path");
}

}  // namespace nabla
