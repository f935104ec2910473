// Normalizations share one primitive: normalize the rows of an [M, R] matrix
// to zero mean and unit variance, with a fused backward. The per-channel affine
// transform is done with broadcasting ops on top.
#include "nabla/ops/norm.h"

#include <omp.h>

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

namespace nabla {

using autograd::record;
using Grads = std::vector<Tensor>;

namespace {

struct Normalized {
  Tensor xhat;  // [M, R]
  Tensor mean;  // [M]
  Tensor var;   // [M], biased
};

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
    const T* in = xc.data<T>();
    T *o = n.xhat.data<T>(), *mu = n.mean.data<T>(), *va = n.var.data<T>(), *rs = rstd.data<T>();
    kernels::parallel_for(M, R, [&](int64_t m) {
      const T* row = in + m * R;
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t r = 0; r < R; ++r) s += row[r];
      double mean = s / static_cast<double>(R), ss = 0;
#pragma omp simd reduction(+ : ss)
      for (int64_t r = 0; r < R; ++r) ss += (row[r] - mean) * (row[r] - mean);
      double var = ss / static_cast<double>(R);
      T inv = static_cast<T>(1.0 / std::sqrt(var + eps));
      for (int64_t r = 0; r < R; ++r) o[m * R + r] = (row[r] - static_cast<T>(mean)) * inv;
      mu[m] = static_cast<T>(mean);
      va[m] = static_cast<T>(var);
      rs[m] = inv;
    });
  });
  Tensor xhat = n.xhat.detach();
  record(
      n.xhat, op, {x},
      [xhat, rstd, M, R](const Tensor& g) {
        // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), per row.
        Tensor gc = g.contiguous();
        Tensor gx = Tensor::empty({M, R}, g.dtype());
        dispatch_floating(g.dtype(), "normalize", [&](auto tag) {
          using T = typename decltype(tag)::type;
          const T *gp = gc.data<T>(), *xh = xhat.data<T>(), *rs = rstd.data<T>();
          T* out = gx.data<T>();
          kernels::parallel_for(M, R, [&](int64_t m) {
            double sg = 0, sgx = 0;
#pragma omp simd reduction(+ : sg, sgx)
            for (int64_t r = 0; r < R; ++r) {
              sg += gp[m * R + r];
              sgx += gp[m * R + r] * xh[m * R + r];
            }
            T mg = static_cast<T>(sg / R), mgx = static_cast<T>(sgx / R);
            for (int64_t r = 0; r < R; ++r) out[m * R + r] = rs[m] * (gp[m * R + r] - mg - xh[m * R + r] * mgx);
          });
        });
        return Grads{gx};
      },
      {n.xhat});
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

// Training-mode batch norm on contiguous [N, C, L] in one pass over the data
// for the statistics and one for the output; the backward is fused the same way:
//   dx = w rstd (g - mean(g) - xhat mean(g xhat)),  dw = sum(g xhat),  db = sum(g)
// per channel. No transposed copies: each channel is N strided runs of L values.
struct BnStats {
  Tensor mean, rstd, var;  // [C]
  static BnStats empty(int64_t C, DType dtype) {
    return {Tensor::empty({C}, dtype), Tensor::empty({C}, dtype), Tensor::empty({C}, dtype)};
  }
};

// batch_norm_train for channels-last x: the same formulas, with the output and
// the input gradient channels-last too.
Tensor batch_norm_train_cl(const Tensor& x, const Tensor& w, const Tensor& b, double eps, BnStats* st) {
  const int64_t C = x.sizes()[1], M = x.numel() / C;
  Tensor xc = x.detach();
  Tensor y = empty_like_layout(xc, x.dtype());
  *st = BnStats::empty(C, x.dtype());
  dispatch_floating(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = xc.data<T>();
    T* out = y.data<T>();
    Tensor wc = w.defined() ? w.detach().contiguous() : Tensor(), bc = b.defined() ? b.detach().contiguous() : Tensor();
    const kernels::TypedKernels<T>& vk = kernels::vec_for<T>();
    std::vector<double> mean = kernels::column_sums<1, T>(
        M, C, [&](int64_t r0, int64_t r1, T* acc) { vk.col_sum(r1 - r0, C, in + r0 * C, acc); });
    std::vector<T> mean_t(C);
    for (int64_t c = 0; c < C; ++c) mean_t[c] = static_cast<T>(mean[c] /= static_cast<double>(M));
    std::vector<double> var = kernels::column_sums<1, T>(M, C, [&](int64_t r0, int64_t r1, T* acc) {
      vk.col_sum_sqdev(r1 - r0, C, in + r0 * C, mean_t.data(), acc);
    });
    std::vector<T> scale(C), shift(C);
    for (int64_t c = 0; c < C; ++c) {
      var[c] /= static_cast<double>(M);
      double rstd = 1.0 / std::sqrt(var[c] + eps);
      scale[c] = static_cast<T>(wc.defined() ? wc.template data<T>()[c] * rstd : rstd);
      shift[c] = static_cast<T>((bc.defined() ? bc.template data<T>()[c] : 0.0) - mean[c] * scale[c]);
      st->mean.data<T>()[c] = static_cast<T>(mean[c]);
      st->rstd.data<T>()[c] = static_cast<T>(rstd);
      st->var.data<T>()[c] = static_cast<T>(var[c]);
    }
    kernels::for_row_ranges(M, C, [&](int64_t r0, int64_t r1) {
      vk.rows_affine(r1 - r0, C, in + r0 * C, scale.data(), shift.data(), out + r0 * C);
    });
  });
  bool gx = x.requires_grad(), gw = w.defined() && w.requires_grad(), gb = b.defined() && b.requires_grad();
  Tensor mean = st->mean, rstd = st->rstd;
  autograd::record(
      y, "batch_norm", {x, w, b},
      [xc, w, mean, rstd, M, C, gx, gw, gb](const Tensor& g) {
        Tensor gc = channels_last_copy(g);
        Tensor dx = gx ? empty_like_layout(xc, g.dtype()) : Tensor();
        Tensor dw = Tensor::empty({C}, g.dtype()), db = Tensor::empty({C}, g.dtype());
        dispatch_floating(g.dtype(), "batch_norm", [&](auto tag) {
          using T = typename decltype(tag)::type;
          const T *gp = gc.data<T>(), *in = xc.data<T>(), *mp = mean.data<T>(), *rp = rstd.data<T>();
          Tensor wc = w.defined() ? w.detach().contiguous() : Tensor();
          const kernels::TypedKernels<T>& vk = kernels::vec_for<T>();
          std::vector<double> sums = kernels::column_sums<2, T>(M, C, [&](int64_t r0, int64_t r1, T* acc) {
            vk.col_sum_bn_grad(r1 - r0, C, gp + r0 * C, in + r0 * C, mp, rp, acc);
          });
          std::vector<T> k(C), mg(C), mgx(C);
          for (int64_t c = 0; c < C; ++c) {
            dw.data<T>()[c] = static_cast<T>(sums[C + c]);
            db.data<T>()[c] = static_cast<T>(sums[c]);
            k[c] = static_cast<T>((wc.defined() ? wc.template data<T>()[c] : 1.0) * rp[c]);
            mg[c] = static_cast<T>(sums[c] / M);
            mgx[c] = static_cast<T>(sums[C + c] / M * rp[c]);
          }
          if (!gx) return;
          T* dxp = dx.data<T>();
          kernels::for_row_ranges(M, C, [&](int64_t r0, int64_t r1) {
            vk.rows_bn_dx(r1 - r0, C, gp + r0 * C, in + r0 * C, mp, k.data(), mg.data(), mgx.data(), dxp + r0 * C);
          });
        });
        return Grads{dx, gw ? dw : Tensor(), gb ? db : Tensor()};
      },
      {x});
  return y;
}

Tensor batch_norm_train(const Tensor& x, const Tensor& w, const Tensor& b, double eps, BnStats* st) {
  const int64_t N = x.sizes()[0], C = x.sizes()[1], L = x.numel() / (N * C), cnt = N * L;
  if (is_channels_last(x) && !x.is_contiguous()) return batch_norm_train_cl(x, w, b, eps, st);
  Tensor xc = x.detach().contiguous();
  Tensor y = Tensor::empty(x.sizes(), x.dtype());
  *st = BnStats::empty(C, x.dtype());
  dispatch_floating(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = xc.data<T>();
    T* out = y.data<T>();
    Tensor wc = w.defined() ? w.detach().contiguous() : Tensor(), bc = b.defined() ? b.detach().contiguous() : Tensor();
    const T* wp = wc.defined() ? wc.template data<T>() : nullptr;
    const T* bp = bc.defined() ? bc.template data<T>() : nullptr;
    T *mp = st->mean.data<T>(), *rp = st->rstd.data<T>(), *vp = st->var.data<T>();
    kernels::parallel_for(C, cnt, [&](int64_t c) {
      double s = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* row = in + (n * C + c) * L;
#pragma omp simd reduction(+ : s)
        for (int64_t l = 0; l < L; ++l) s += row[l];
      }
      double mean = s / static_cast<double>(cnt), ss = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* row = in + (n * C + c) * L;
#pragma omp simd reduction(+ : ss)
        for (int64_t l = 0; l < L; ++l) ss += (row[l] - mean) * (row[l] - mean);
      }
      double var = ss / static_cast<double>(cnt), rstd = 1.0 / std::sqrt(var + eps);
      T scale = static_cast<T>(wp ? wp[c] * rstd : rstd);
      T shift = static_cast<T>((bp ? bp[c] : 0.0) - mean * scale);
      for (int64_t n = 0; n < N; ++n) {
        const T* row = in + (n * C + c) * L;
        T* orow = out + (n * C + c) * L;
        for (int64_t l = 0; l < L; ++l) orow[l] = row[l] * scale + shift;
      }
      mp[c] = static_cast<T>(mean);
      rp[c] = static_cast<T>(rstd);
      vp[c] = static_cast<T>(var);
    });
  });
  bool gx = x.requires_grad(), gw = w.defined() && w.requires_grad(), gb = b.defined() && b.requires_grad();
  Tensor mean = st->mean, rstd = st->rstd;
  autograd::record(
      y, "batch_norm", {x, w, b},
      [xc, w, mean, rstd, N, C, L, gx, gw, gb](const Tensor& g) {
        const int64_t cnt = N * L;
        Tensor gc = g.contiguous();
        Tensor dx = gx ? Tensor::empty(xc.sizes(), g.dtype()) : Tensor();
        Tensor dw = Tensor::empty({C}, g.dtype()), db = Tensor::empty({C}, g.dtype());
        dispatch_floating(g.dtype(), "batch_norm", [&](auto tag) {
          using T = typename decltype(tag)::type;
          const T *gp = gc.data<T>(), *in = xc.data<T>(), *mp = mean.data<T>(), *rp = rstd.data<T>();
          Tensor wc = w.defined() ? w.detach().contiguous() : Tensor();
          const T* wp = wc.defined() ? wc.template data<T>() : nullptr;
          T *dwp = dw.data<T>(), *dbp = db.data<T>();
          T* dxp = gx ? dx.data<T>() : nullptr;
          kernels::parallel_for(C, cnt, [&](int64_t c) {
            double sg = 0, sgx = 0;
            const double m = mp[c], r = rp[c];
            for (int64_t n = 0; n < N; ++n) {
              const T *grow = gp + (n * C + c) * L, *row = in + (n * C + c) * L;
#pragma omp simd reduction(+ : sg, sgx)
              for (int64_t l = 0; l < L; ++l) {
                sg += grow[l];
                sgx += grow[l] * (row[l] - m) * r;
              }
            }
            dwp[c] = static_cast<T>(sgx);
            dbp[c] = static_cast<T>(sg);
            if (!dxp) return;
            const T k = static_cast<T>((wp ? wp[c] : 1.0) * r), mg = static_cast<T>(sg / cnt),
                    mgx = static_cast<T>(sgx / cnt), mt = static_cast<T>(m), rt = static_cast<T>(r);
            for (int64_t n = 0; n < N; ++n) {
              const T *grow = gp + (n * C + c) * L, *row = in + (n * C + c) * L;
              T* drow = dxp + (n * C + c) * L;
              for (int64_t l = 0; l < L; ++l) drow[l] = k * (grow[l] - mg - (row[l] - mt) * rt * mgx);
            }
          });
        });
        return Grads{dx, gw ? dw : Tensor(), gb ? db : Tensor()};
      },
      {x});
  return y;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& rm, const Tensor& rv, const Tensor& w, const Tensor& b,
                  bool training, double momentum, double eps) {
  NABLA_CHECK(x.dim() >= 2, "batch_norm: expected input [N, C, *], got {}", shape_str(x.sizes()));
  int64_t C = x.sizes()[1];
  check_channel_vec(rm, C, "running_mean", "batch_norm");
  check_channel_vec(rv, C, "running_var", "batch_norm");
  check_channel_vec(w, C, "weight", "batch_norm");
  check_channel_vec(b, C, "bias", "batch_norm");
  for (const Tensor* t : {&w, &b, &rm, &rv})
    if (t->defined())
      NABLA_CHECK(t->dtype() == x.dtype(), "batch_norm: parameter dtype {} differs from input dtype {}",
                  dtype_name(t->dtype()), dtype_name(x.dtype()));
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
  if (rm.defined() && rv.defined()) {
    NoGradGuard ng;
    Tensor rmv = rm, rvv = rv;
    rmv.mul_(1.0 - momentum).add_(mul(st.mean, momentum));
    double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
    rvv.mul_(1.0 - momentum).add_(mul(st.var, momentum * unbias));
  }
  return y;
}

Tensor layer_norm(const Tensor& x, const Shape& ns, const Tensor& w, const Tensor& b, double eps) {
  int64_t k = static_cast<int64_t>(ns.size());
  bool ok = k >= 1 && k <= x.dim();
  for (int64_t i = 0; ok && i < k; ++i) ok = x.sizes()[x.dim() - k + i] == ns[i];
  NABLA_CHECK(ok, "layer_norm: input {} does not end with normalized_shape {}", shape_str(x.sizes()), shape_str(ns));
  if (w.defined())
    NABLA_CHECK(w.sizes() == ns, "layer_norm: weight {} must have normalized_shape {}", shape_str(w.sizes()),
                shape_str(ns));
  if (b.defined())
    NABLA_CHECK(b.sizes() == ns, "layer_norm: bias {} must have normalized_shape {}", shape_str(b.sizes()),
                shape_str(ns));
  int64_t R = shape_numel(ns);
  // Rows spelled out, not -1: with no elements, -1 would be ambiguous.
  const int64_t rows = shape_numel(Shape(x.sizes().begin(), x.sizes().end() - static_cast<int64_t>(ns.size())));
  Normalized n = normalize_rows(x.reshape({rows, R}), eps, "layer_norm");
  Tensor y = n.xhat.reshape(x.sizes());
  if (w.defined()) y = mul(y, w);
  if (b.defined()) y = add(y, b);
  return y;
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& w, const Tensor& b, double eps) {
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

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  return dropout_with_mask_shape(x, p, training, gen, x.sizes(), "dropout");
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
