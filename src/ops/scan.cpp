// Scans run per lane (every index of the other dims), lanes split over the
// threads: a lane's T steps are sequential, the lanes independent.
#include "nabla/ops/scan.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/vec/table.h"
#include "nabla/autograd/node.h"
#include "nabla/tensor/factory.h"
#include "ops/reduced.h"

namespace nabla {

using autograd::record;

namespace {

// x viewed as [outer, T, inner] after making it contiguous.
struct Lanes {
  int64_t outer, T, inner;
};

Lanes lanes_of(const Tensor& x, int64_t dim) {
  Lanes l{1, x.size(dim), 1};
  for (int64_t d = 0; d < dim; ++d) l.outer *= x.size(d);
  for (int64_t d = dim + 1; d < x.dim(); ++d) l.inner *= x.size(d);
  return l;
}

// Runs f(lane_pointer_offset, stride) for every lane: element t of the lane
// is at base + t * inner.
template <class F> void for_lanes(const Lanes& l, F f) {
  kernels::parallel_for(l.outer * l.inner, l.T, [&](int64_t k) {
    int64_t o = k / l.inner, i = k % l.inner;
    f(o * l.T * l.inner + i, l.inner);
  });
}

// out_t = combine(out_{t-1}, in_t) along each lane, from `identity`, forwards
// or backwards: logcumsumexp's forward (cumsum has a dispatched kernel, cumsum_lanes).
template <class Combine>
Tensor scan_lanes(const Tensor& in, const Lanes& l, bool backwards, double identity, const char* op, Combine combine) {
  Tensor ic = in.contiguous();
  Tensor out = Tensor::empty(in.sizes(), in.dtype());
  dispatch_floating(in.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* ip = ic.const_data<T>();
    T* o = out.data<T>();
    for_lanes(l, [&](int64_t base, int64_t st) {
      T acc = static_cast<T>(identity);
      for (int64_t s = 0; s < l.T; ++s) {
        int64_t k = base + (backwards ? l.T - 1 - s : s) * st;
        o[k] = acc = combine(acc, ip[k]);
      }
    });
  });
  return out;
}

Lanes scan_lanes_of(const Tensor& x, int64_t& dim, const char* op) {
  NABLA_CHECK(x.dim() >= 1, "{}: expected at least one dim, got a scalar", op);
  dim = wrap_dim(dim, x.dim(), op);
  return lanes_of(x, dim);
}

}  // namespace

namespace {

// cumsum of `in` along the lanes, forwards or from the end: the dispatched kernel
// on each [T, inner] block, the lanes split over the threads.
Tensor cumsum_lanes(const Tensor& in, const Lanes& l, bool reverse) {
  Tensor ic = in.contiguous();
  Tensor out = Tensor::empty(in.sizes(), in.dtype());
  dispatch_floating(in.dtype(), "cumsum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* ip = ic.const_data<T>();
    T* o = out.data<T>();
    kernels::parallel_lane_ranges(l.outer, l.inner, l.outer * l.inner * l.T, [&](int64_t b, int64_t k0, int64_t k1) {
      const int64_t base = b * l.T * l.inner;
      kernels::vec_for<T>().cumsum_lanes(l.T, l.inner, k0, k1, ip + base, o + base, reverse);
    });
  });
  return out;
}

}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim) {
  if (auto r = detail::input_entry([dim](const Tensor& x_) { return cumsum(x_, dim); }, x)) return *r;
  Lanes l = scan_lanes_of(x, dim, "cumsum");
  Tensor out = cumsum_lanes(x.detach(), l, false);
  record(out, "cumsum", {x}, [l](const Tensor& g) {
    // d/dx_s of sum_t g_t y_t is the sum of g_t over t >= s: a reversed cumsum.
    return std::vector<Tensor>{cumsum_lanes(g, l, true)};
  });
  return out;
}

namespace {

// log(exp(a) + exp(b)) without overflow; -inf is the identity.
template <class T> T log_add_exp(T a, T b) {
  if (a == -std::numeric_limits<T>::infinity()) return b;
  if (b == -std::numeric_limits<T>::infinity()) return a;
  T m = std::max(a, b);
  return m + std::log1p(std::exp(-std::abs(a - b)));
}

}  // namespace

Tensor logcumsumexp(const Tensor& x, int64_t dim) {
  if (auto r = detail::input_entry([dim](const Tensor& x_) { return logcumsumexp(x_, dim); }, x)) return *r;
  Lanes l = scan_lanes_of(x, dim, "logcumsumexp");
  Tensor xc = x.detach().contiguous();
  Tensor out = scan_lanes(xc, l, false, -std::numeric_limits<double>::infinity(), "logcumsumexp",
                          [](auto a, auto b) { return log_add_exp(a, b); });
  Tensor y = out.detach();
  record(
      out, "logcumsumexp", {x},
      [l, xc, y](const Tensor& g) {
        // dL/dx_s = sum_{t >= s} g_t exp(x_s - y_t). The positive and negative
        // parts of g are summed separately in log space, from the end backwards,
        // so nothing overflows however negative y gets.
        Tensor gc = g.contiguous();
        Tensor gx = Tensor::empty(g.sizes(), g.dtype());
        dispatch_floating(g.dtype(), "logcumsumexp backward", [&](auto tag) {
          using T = typename decltype(tag)::type;
          const T ninf = -std::numeric_limits<T>::infinity();
          const T *gp = gc.const_data<T>(), *xp = xc.const_data<T>(), *yp = y.const_data<T>();
          T* o = gx.data<T>();
          for_lanes(l, [&](int64_t base, int64_t st) {
            T pos = ninf, neg = ninf;
            for (int64_t t = l.T - 1; t >= 0; --t) {
              int64_t k = base + t * st;
              T gt = gp[k];
              if (gt > 0) pos = log_add_exp(pos, std::log(gt) - yp[k]);
              if (gt < 0) neg = log_add_exp(neg, std::log(-gt) - yp[k]);
              o[k] = std::exp(xp[k] + pos) - std::exp(xp[k] + neg);
            }
          });
        });
        return std::vector<Tensor>{gx};
      },
      {x});
  return out;
}

Tensor linear_scan(const Tensor& log_a, const Tensor& log_b, const Tensor& h0) {
  NABLA_CHECK(log_a.dim() == 3 && log_a.sizes() == log_b.sizes(),
              "linear_scan: log_a and log_b must be [B, T, H] of one shape, got {} and {}", shape_str(log_a.sizes()),
              shape_str(log_b.sizes()));
  const int64_t B = log_a.size(0), T = log_a.size(1), H = log_a.size(2);
  NABLA_CHECK(h0.dim() == 2 && h0.size(0) == B && h0.size(1) == H, "linear_scan: h0 must be [{}, {}], got {}", B, H,
              shape_str(h0.sizes()));
  NABLA_CHECK(log_b.dtype() == log_a.dtype() && h0.dtype() == log_a.dtype(), "linear_scan: dtypes differ");
  Tensor la = log_a.detach().contiguous(), lb = log_b.detach().contiguous(), hc = h0.detach().contiguous();
  Tensor out = Tensor::empty({B, T, H}, log_a.dtype());
  Lanes l{B, T, H};
  dispatch_floating(log_a.dtype(), "linear_scan", [&](auto tag) {
    using S = typename decltype(tag)::type;
    const S *ap = la.const_data<S>(), *bp = lb.const_data<S>(), *h0p = hc.const_data<S>();
    S* o = out.data<S>();
    for_lanes(l, [&](int64_t base, int64_t st) {
      S h = h0p[(base / (T * H)) * H + base % H];
      for (int64_t t = 0; t < T; ++t) {
        int64_t k = base + t * st;
        o[k] = h = std::exp(ap[k]) * h + std::exp(bp[k]);
      }
    });
  });
  Tensor y = out.detach();
  record(
      out, "linear_scan", {log_a, log_b, h0},
      [l, la, lb, hc, y](const Tensor& g) {
        // G_t, the gradient reaching h_t from the output and from h_{t+1}, runs
        // backwards: G_t = g_t + a_{t+1} G_{t+1}. Then dlog_b_t = G_t b_t,
        // dlog_a_t = G_t a_t h_{t-1}, dh0 = a_1 G_1.
        Tensor gc = g.contiguous();
        Tensor ga = Tensor::empty(g.sizes(), g.dtype()), gb = Tensor::empty(g.sizes(), g.dtype());
        Tensor gh0 = Tensor::empty({l.outer, l.inner}, g.dtype());
        dispatch_floating(g.dtype(), "linear_scan backward", [&](auto tag) {
          using S = typename decltype(tag)::type;
          const S *gp = gc.const_data<S>(), *ap = la.const_data<S>(), *bp = lb.const_data<S>(), *yp = y.const_data<S>(), *h0p = hc.const_data<S>();
          S *gap = ga.data<S>(), *gbp = gb.data<S>(), *gh = gh0.data<S>();
          const int64_t T = l.T, H = l.inner;
          for_lanes(l, [&](int64_t base, int64_t st) {
            int64_t lane0 = (base / (T * H)) * H + base % H;
            S G = 0, a_next = 0;
            for (int64_t t = T - 1; t >= 0; --t) {
              int64_t k = base + t * st;
              G = gp[k] + a_next * G;
              S a = std::exp(ap[k]);
              S hprev = t > 0 ? yp[k - st] : h0p[lane0];
              gbp[k] = G * std::exp(bp[k]);
              gap[k] = G * a * hprev;
              a_next = a;
            }
            gh[lane0] = a_next * G;
          });
        });
        return std::vector<Tensor>{ga, gb, gh0};
      },
      {log_a, log_b, h0});
  return out;
}

}  // namespace nabla
