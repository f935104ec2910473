// Pooling. Max pooling records the argmax of each window, so its backward is a
// scatter; average pooling's backward spreads each gradient over its window.
#include "nabla/ops/pool.h"
#include "nabla/ops/trace.h"

#include <cmath>
#include <algorithm>
#include <limits>
#include <memory>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/vec/table.h"
#include "nabla/autograd/grad_mode.h"
#include "nabla/autograd/node.h"
#include "nabla/ops/index.h"
#include "nabla/tensor/factory.h"
#include "nabla/tensor/layout.h"
#include "ops/reduced.h"

namespace nabla {

using autograd::record;
using Grads = std::vector<Tensor>;

namespace {

int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t span = in + 2 * p - d * (k - 1) - 1;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;  // the last window must start inside the input or left padding
  return out;
}

struct PoolShape {
  int64_t planes, H, W, Ho, Wo;
};

// Normalizes [C, H, W] to [1, C, H, W]; returns whether it did.
Tensor as_4d(const Tensor& x, const char* op, bool* unbatched) {
  NABLA_CHECK(x.dim() == 3 || x.dim() == 4, "{}: expected input [N, C, H, W] or [C, H, W], got {}", op,
              shape_str(x.sizes()));
  *unbatched = x.dim() == 3;
  return *unbatched ? x.unsqueeze(0) : x;
}

Pool2dParams resolved(Pool2dParams p, const char* op) {
  for (int d = 0; d < 2; ++d) {
    if (p.stride[d] == 0) p.stride[d] = p.kernel[d];
    NABLA_CHECK(p.kernel[d] >= 1 && p.stride[d] >= 1 && p.dilation[d] >= 1,
                "{}: kernel, stride and dilation must be positive", op);
    NABLA_CHECK(p.padding[d] >= 0 && 2 * p.padding[d] <= p.kernel[d],
                "{}: padding {} must be at most half the kernel size {}", op, p.padding[d], p.kernel[d]);
  }
  return p;
}

PoolShape pool_shape(const Tensor& x4, const Pool2dParams& p, const char* op) {
  PoolShape s{x4.sizes()[0] * x4.sizes()[1], x4.sizes()[2], x4.sizes()[3], 0, 0};
  s.Ho = pool_out(s.H, p.kernel[0], p.stride[0], p.padding[0], p.dilation[0], p.ceil_mode);
  s.Wo = pool_out(s.W, p.kernel[1], p.stride[1], p.padding[1], p.dilation[1], p.ceil_mode);
  NABLA_CHECK(s.Ho > 0 && s.Wo > 0, "{}: input {} is too small for kernel {}x{}", op, shape_str(x4.sizes()),
              p.kernel[0], p.kernel[1]);
  return s;
}

// The planar max pooling kernel: the maxima of contiguous x4's windows and, per
// output, the flat index of its maximum within the input plane.
std::pair<Tensor, Tensor> planar_max(const Tensor& xc, const Pool2dParams& p, const PoolShape& s) {
  Tensor out = Tensor::empty({xc.sizes()[0], xc.sizes()[1], s.Ho, s.Wo}, xc.dtype());
  Tensor idx = Tensor::empty(out.sizes(), DType::i64);
  const kernels::PoolGeom geom{s.H,         s.W,         s.Ho,        s.Wo,          p.kernel[0],   p.kernel[1],
                               p.stride[0], p.stride[1], p.padding[0], p.padding[1], p.dilation[0], p.dilation[1]};
  dispatch_floating(xc.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = xc.const_data<T>();
    T* o = out.data<T>();
    int64_t* ix = idx.data<int64_t>();
    kernels::parallel_for(s.planes, s.H * s.W, [&](int64_t c) {
      kernels::vec_for<T>().max_pool_plane(geom, in + c * s.H * s.W, o + c * s.Ho * s.Wo, ix + c * s.Ho * s.Wo);
    });
  });
  return {out, idx};
}

// Max pooling's input gradient as a recorded scatter of each output's gradient
// to its argmax (create_graph: its own gradient is the gather back). The
// maxima's positions are constants, so the second derivative in x is zero.
Tensor scatter_to_argmax(const Tensor& g, const Tensor& idx, const PoolShape& s, const Shape& in_shape) {
  const int64_t L = s.Ho * s.Wo;
  return scatter_add(zeros({s.planes, s.H * s.W}, g.dtype()), 1, idx.reshape({s.planes, L}),
                     g.reshape({s.planes, L}))
      .reshape(in_shape);
}

}  // namespace

// Max pooling of a channels-last batch: every window is a few rows of C values
// that are compared a channel vector at a time. Output and input gradient are
// channels-last too; the argmax is kept as the window position (one byte per
// output value). Same rules as the planar loop: ties keep the first element,
// the first NaN of a window wins.
bool cl_pool_fits(const Pool2dParams& p) { return p.kernel[0] * p.kernel[1] <= 255; }

Tensor max_pool2d_cl(const Tensor& x4, const Pool2dParams& p, const PoolShape& s) {
  const int64_t N = x4.sizes()[0], C = x4.sizes()[1], kh = p.kernel[0], kw = p.kernel[1];
  const std::vector<int64_t> order{0, 2, 3, 1};
  Tensor xc = x4.detach();
  Tensor out = empty_in_order({N, C, s.Ho, s.Wo}, order, x4.dtype());
  Tensor pos = empty_in_order({N, C, s.Ho, s.Wo}, order, DType::u8);  // i * kw + j of the window's max
  // Calls f(iy, ix, k) for each element of output (y, xo)'s window that lies in
  // the image, in window order; k = i * kw + j is its window position.
  auto each_in_window = [p, s, kh, kw](int64_t y, int64_t xo, auto&& f) {
    for (int64_t i = 0; i < kh; ++i) {
      const int64_t iy = y * p.stride[0] - p.padding[0] + i * p.dilation[0];
      if (iy < 0 || iy >= s.H) continue;
      for (int64_t j = 0; j < kw; ++j) {
        const int64_t ix = xo * p.stride[1] - p.padding[1] + j * p.dilation[1];
        if (ix >= 0 && ix < s.W) f(iy, ix, static_cast<uint8_t>(i * kw + j));
      }
    }
  };
  dispatch_floating(x4.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = xc.const_data<T>();
    T* op = out.data<T>();
    uint8_t* pp = pos.data<uint8_t>();
    // 2x2 windows with stride 2 inside the image (the usual downsampling): four
    // channel vectors per output, no bounds checks.
    const bool two_by_two = kh == 2 && kw == 2 && p.stride == std::array<int64_t, 2>{2, 2} &&
                            p.padding == std::array<int64_t, 2>{0, 0} && p.dilation == std::array<int64_t, 2>{1, 1} &&
                            2 * s.Ho <= s.H && 2 * s.Wo <= s.W;
    const kernels::TypedKernels<T>& k = kernels::vec_for<T>();
    if (two_by_two) {
      kernels::parallel_for(N * s.Ho, s.Wo * C * 4, [&](int64_t row) {
        const int64_t n = row / s.Ho, y = row % s.Ho;
        k.max_pool_2x2_row(s.Wo, C, s.W * C, in + (n * s.H + 2 * y) * s.W * C, op + row * s.Wo * C,
                           pp + row * s.Wo * C);
      });
      return;
    }
    kernels::parallel_for(N * s.Ho, s.Wo * C * kh * kw, [&](int64_t row) {
      const int64_t n = row / s.Ho, y = row % s.Ho;
      for (int64_t xo = 0; xo < s.Wo; ++xo) {
        T* o = op + (row * s.Wo + xo) * C;
        uint8_t* at = pp + (row * s.Wo + xo) * C;
        bool first = true;
        each_in_window(y, xo, [&](int64_t iy, int64_t ix, uint8_t pos_k) {
          const T* v = in + ((n * s.H + iy) * s.W + ix) * C;
          if (first) {
            std::copy(v, v + C, o);
            std::fill(at, at + C, pos_k);
            first = false;
            return;
          }
          k.max_pool_merge(C, v, pos_k, o, at);
        });
      }
    });
  });
  record(out, "max_pool2d", {x4}, [xc, pos, p, s, N, C, kh, kw, order, each_in_window, in_shape = x4.sizes()](const Tensor& g) {
    if (grad_enabled())  // create_graph: the planar kernel's indices (same ties) for a recorded scatter
      return Grads{scatter_to_argmax(g, planar_max(contiguous_copy(xc), p, s).second, s, in_shape)};
    Tensor go = channels_last_copy(g);
    Tensor gx = empty_in_order(in_shape, order, g.dtype());
    // Windows that tile the image (no overlap, no padding) write each input gradient once;
    // otherwise gradients add up, so threads split over images.
    const bool tiles = p.stride[0] >= kh && p.stride[1] >= kw && p.padding == std::array<int64_t, 2>{0, 0} &&
                       p.dilation == std::array<int64_t, 2>{1, 1};
    const bool covered = tiles && p.stride[0] == kh && p.stride[1] == kw && s.Ho * kh == s.H && s.Wo * kw == s.W;
    if (!covered) gx.zero_();
    dispatch_floating(g.dtype(), "max_pool2d", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* gp = go.const_data<T>();
      const uint8_t* pp = pos.const_data<uint8_t>();
      T* gxp = gx.data<T>();
      const kernels::TypedKernels<T>& vk = kernels::vec_for<T>();
      auto rows = [&](int64_t n, int64_t y) {
        for (int64_t xo = 0; xo < s.Wo; ++xo) {
          const int64_t o = ((n * s.Ho + y) * s.Wo + xo) * C;
          each_in_window(y, xo, [&](int64_t iy, int64_t ix, uint8_t k) {
            vk.max_pool_select(C, gp + o, pp + o, k, gxp + ((n * s.H + iy) * s.W + ix) * C, !tiles);
          });
        }
      };
      if (tiles)
        kernels::parallel_for(N * s.Ho, s.Wo * C * kh * kw, [&](int64_t r) { rows(r / s.Ho, r % s.Ho); });
      else
        kernels::parallel_for(N, s.Ho * s.Wo * C * kh * kw, [&](int64_t n) {
          for (int64_t y = 0; y < s.Ho; ++y) rows(n, y);
        });
    });
    return Grads{gx};
  }, {}, autograd::Backward::differentiable);
  return out;
}

// A pooling op's window as trace attributes.
static trace::Attrs pool_attrs(const Pool2dParams& p) {
  return {{"kernel", trace::ints(p.kernel)},     {"stride", trace::ints(p.stride)},
          {"padding", trace::ints(p.padding)},   {"dilation", trace::ints(p.dilation)},
          {"ceil_mode", int64_t(p.ceil_mode)}, {"count_include_pad", int64_t(p.count_include_pad)}};
}

static Tensor max_pool2d_untraced(const Tensor& x, const Pool2dParams& pin) {
  if (auto r = detail::input_entry([&pin](const Tensor& x_) { return max_pool2d(x_, pin); }, x)) return *r;
  bool unbatched;
  Tensor x4 = as_4d(x, "max_pool2d", &unbatched);
  Pool2dParams p = resolved(pin, "max_pool2d");
  PoolShape s = pool_shape(x4, p, "max_pool2d");
  if (!unbatched && is_channels_last(x4) && !x4.is_contiguous() && cl_pool_fits(p)) return max_pool2d_cl(x4, p, s);
  auto [out, idx] = planar_max(x4.detach().contiguous(), p, s);
  Tensor result = unbatched ? out.squeeze(0) : out;
  result.impl().is_view = false;
  record(result, "max_pool2d", {x}, [idx, s, in_shape = x.sizes()](const Tensor& g) {
    if (grad_enabled()) return Grads{scatter_to_argmax(g, idx, s, in_shape)};
    Tensor go = g.contiguous();
    Tensor gx = zeros(in_shape, g.dtype());
    dispatch_floating(g.dtype(), "max_pool2d", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* gp = go.const_data<T>();
      const int64_t* ix = idx.const_data<int64_t>();
      T* gxp = gx.data<T>();
      const int64_t n = s.Ho * s.Wo;
      kernels::parallel_for(s.planes, n, [&](int64_t c) {
        kernels::vec_for<T>().max_pool_plane_backward(n, gp + c * n, ix + c * n, gxp + c * s.H * s.W);
      });
    });
    return Grads{gx};
  }, {}, autograd::Backward::differentiable);
  return result;
}

Tensor max_pool2d(const Tensor& x, const Pool2dParams& p) {
  trace::Scope traced;
  Tensor out = max_pool2d_untraced(x, p);
  if (traced) {
    traced.done("max_pool2d", {x}, out, pool_attrs(p));
  }
  return out;
}

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  Pool2dParams p;
  p.kernel = {kernel, kernel};
  p.stride = {stride, stride};
  p.padding = {padding, padding};
  return max_pool2d(x, p);
}

namespace {

// The separable windows of average pooling: per output row its input rows
// [y0, y1) and divisor's factor, per output column the same.
struct Windows1d {
  std::vector<int64_t> lo, hi, div;
};

// Along one dim of `in` values: windows of `k` at `stride`, `pad` on each side.
// The divisor counts the padding (count_include_pad) but never the overhang
// past it that ceil_mode allows, as in PyTorch.
Windows1d avg_windows_1d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, bool count_pad) {
  Windows1d w{std::vector<int64_t>(out), std::vector<int64_t>(out), std::vector<int64_t>(out)};
  for (int64_t i = 0; i < out; ++i) {
    const int64_t start = i * stride - pad, end = std::min(start + k, in + pad);
    w.lo[i] = std::max<int64_t>(start, 0);
    w.hi[i] = std::min(end, in);
    w.div[i] = count_pad ? end - start : w.hi[i] - w.lo[i];
  }
  return w;
}

// Adaptive bins along one dim: bin i covers [floor(i in / out), ceil((i + 1) in / out)).
Windows1d adaptive_windows_1d(int64_t in, int64_t out) {
  Windows1d w{std::vector<int64_t>(out), std::vector<int64_t>(out), std::vector<int64_t>(out)};
  for (int64_t i = 0; i < out; ++i) {
    w.lo[i] = i * in / out;
    w.hi[i] = ((i + 1) * in + out - 1) / out;
    w.div[i] = w.hi[i] - w.lo[i];
  }
  return w;
}

// Where the windows of an average pooling lie: shared by window_mean and its
// adjoint window_spread, which are each other's backward (so average pooling
// differentiates to any order).
struct MeanPlan {
  PoolShape s;
  Windows1d rows, cols;
  const char* op;
  kernels::AvgWindows windows() const {
    return {s.H, s.W, s.Ho, s.Wo, rows.lo.data(), rows.hi.data(), rows.div.data(),
            cols.lo.data(), cols.hi.data(), cols.div.data()};
  }
};
using Plan = std::shared_ptr<const MeanPlan>;

Shape with_plane(const Shape& lead, int64_t h, int64_t w) {
  Shape out(lead.begin(), lead.end() - 2);
  out.push_back(h);
  out.push_back(w);
  return out;
}

Tensor window_spread(const Tensor& g, const Shape& in_shape, const Plan& plan);

// The window kernel over every plane of src into dst: the mean of each window
// or, as its adjoint, each output's gradient spread evenly over its window.
Tensor run_windows(const Tensor& src, Tensor dst, const Plan& plan, bool adjoint) {
  const PoolShape& s = plan->s;
  const int64_t in = adjoint ? s.Ho * s.Wo : s.H * s.W, out = adjoint ? s.H * s.W : s.Ho * s.Wo;
  Tensor sc = contiguous_copy(src);
  dispatch_floating(src.dtype(), plan->op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* a = sc.const_data<T>();
    T* b = dst.data<T>();
    const kernels::AvgWindows w = plan->windows();
    const kernels::TypedKernels<T>& k = kernels::vec_for<T>();
    kernels::parallel_for(s.planes, in, [&](int64_t c) {
      if (adjoint)
        k.avg_pool_plane_backward(w, a + c * in, b + c * out);
      else
        k.avg_pool_plane(w, a + c * in, b + c * out);
    });
  });
  return dst;
}

// Mean of x ([N, C, H, W] or [C, H, W]) over one window per output: avg_pool2d
// and adaptive_avg_pool2d, which differ only in how they place the windows and
// count their divisors.
Tensor window_mean(const Tensor& x, const Plan& plan) {
  Tensor out = run_windows(x, Tensor::empty(with_plane(x.sizes(), plan->s.Ho, plan->s.Wo), x.dtype()), plan, false);
  record(out, plan->op, {x}, [plan, in_shape = x.sizes()](const Tensor& g) {
    return Grads{window_spread(g, in_shape, plan)};
  }, {}, autograd::Backward::differentiable);
  return out;
}

// The adjoint of window_mean, recorded with window_mean as its backward.
Tensor window_spread(const Tensor& g, const Shape& in_shape, const Plan& plan) {
  Tensor gx = run_windows(g, zeros(in_shape, g.dtype()), plan, true);
  record(gx, plan->op, {g}, [plan](const Tensor& u) { return Grads{window_mean(u, plan)}; }, {},
         autograd::Backward::differentiable);
  return gx;
}

}  // namespace

static Tensor avg_pool2d_untraced(const Tensor& x, const Pool2dParams& pin) {
  if (auto r = detail::input_entry([&pin](const Tensor& x_) { return avg_pool2d(x_, pin); }, x)) return *r;
  bool unbatched;
  Tensor x4 = as_4d(x, "avg_pool2d", &unbatched);
  Pool2dParams p = resolved(pin, "avg_pool2d");
  p.dilation = {1, 1};
  PoolShape s = pool_shape(x4, p, "avg_pool2d");
  return window_mean(
      x, std::make_shared<const MeanPlan>(MeanPlan{
             s, avg_windows_1d(s.H, s.Ho, p.kernel[0], p.stride[0], p.padding[0], p.count_include_pad),
             avg_windows_1d(s.W, s.Wo, p.kernel[1], p.stride[1], p.padding[1], p.count_include_pad), "avg_pool2d"}));
}

Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p) {
  trace::Scope traced;
  Tensor out = avg_pool2d_untraced(x, p);
  if (traced) {
    traced.done("avg_pool2d", {x}, out, pool_attrs(p));
  }
  return out;
}

Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  Pool2dParams p;
  p.kernel = {kernel, kernel};
  p.stride = {stride, stride};
  p.padding = {padding, padding};
  return avg_pool2d(x, p);
}

static Tensor adaptive_avg_pool2d_untraced(const Tensor& x, std::array<int64_t, 2> osz) {
  if (auto r = detail::input_entry([osz](const Tensor& x_) { return adaptive_avg_pool2d(x_, osz); }, x)) return *r;
  bool unbatched;
  Tensor x4 = as_4d(x, "adaptive_avg_pool2d", &unbatched);
  NABLA_CHECK(osz[0] > 0 && osz[1] > 0, "adaptive_avg_pool2d: output size must be positive, got {}x{}", osz[0],
              osz[1]);
  PoolShape s{x4.sizes()[0] * x4.sizes()[1], x4.sizes()[2], x4.sizes()[3], osz[0], osz[1]};
  return window_mean(x, std::make_shared<const MeanPlan>(MeanPlan{s, adaptive_windows_1d(s.H, s.Ho),
                                                                   adaptive_windows_1d(s.W, s.Wo),
                                                                   "adaptive_avg_pool2d"}));
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> osz) {
  trace::Scope traced;
  Tensor out = adaptive_avg_pool2d_untraced(x, osz);
  if (traced) {
    traced.done("adaptive_avg_pool2d", {x}, out, {{"output_size", trace::ints(osz)}});
  }
  return out;
}

}  // namespace nabla
